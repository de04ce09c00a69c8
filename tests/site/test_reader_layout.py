"""The site as a reader meets it on a phone (390 px) and a desktop (1280 px): navigation,
equations, tables, figures, code, page weight (issue 18).

Each test opens the pages at the width and in the mode where the defect showed. Page weights
and screenshots of chapters 5, 6 and 10 go to `test-artifacts/`.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from conftest import chapter_pages
from test_browser import RAW_TEX, Browsing, _settle

CHAPTERS = chapter_pages()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# A first visit to a chapter, everything it loads (uncompressed bytes). Measured on the
# chapters with the largest figures (issue 18): about 2.4 MB before the figures were
# drawn at twice their resolution; MathJax alone (1.3 MB of script, fonts on top) is half
# of that. The limit leaves room for a few more figures, and fails well below the 4.6 MB
# the site weighed before.
MAX_PAGE_BYTES = 3_300_000
# Pages without figures or equations load only the theme.
MAX_TEXT_PAGE_BYTES = 900_000

SCREENSHOT_CHAPTERS = [
    "book/05_log_likelihood_gradient.html",
    "book/06_gibbs_and_contrastive_divergence.html",
    "book/10_evaluating_with_ais.html",
]


@pytest.fixture(scope="module")
def phone(browser, server):
    b = Browsing(browser, server, dark=False, viewport=PHONE)
    yield b
    b.close()


@pytest.fixture(scope="module")
def desktop(browser, server):
    b = Browsing(browser, server, dark=False, viewport=DESKTOP)
    yield b
    b.close()


def _open(browsing: Browsing, path: str):
    page, watch, _ = browsing.open(path)
    _settle(page, watch)
    page.wait_for_timeout(250)  # the page script marks scrolling equations after MathJax
    return page, watch


# ---------------------------------------------------------------------------- navigation


def test_phone_sidebar_opens_and_its_chapter_links_work(site, phone, server):
    page, watch = _open(phone, "book/06_gibbs_and_contrastive_divergence.html")
    try:
        toggle = page.locator(".primary-toggle:visible")
        assert toggle.count() == 1, "no visible ☰ button at 390 px"
        toggle.first.tap()
        dialog = page.locator("#pst-primary-sidebar-modal")
        dialog.wait_for(state="visible", timeout=3000)
        assert page.evaluate("document.getElementById('pst-primary-sidebar-modal').open")
        link = dialog.locator("a.reference", has_text="Evaluating large RBMs")
        assert link.count() >= 1 and link.first.is_visible(), "no chapter link in the sidebar"
        box = link.first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        with page.expect_navigation():
            link.first.tap()
        assert urlparse(page.url).path.endswith("book/10_evaluating_with_ais.html")
    finally:
        page.close()
    assert not watch.console, watch.console


def test_phone_page_contents_open(site, phone):
    page, _ = _open(phone, "book/06_gibbs_and_contrastive_divergence.html")
    try:
        toggle = page.locator(".secondary-toggle:visible")
        assert toggle.count() == 1, "no visible 'on this page' button at 390 px"
        toggle.first.tap()
        dialog = page.locator("#pst-secondary-sidebar-modal")
        dialog.wait_for(state="visible", timeout=3000)
        entry = dialog.locator("a", has_text="Contrastive divergence")
        assert entry.count() >= 1 and entry.first.is_visible()
        entry.first.tap()
        page.wait_for_timeout(300)
        assert page.url.endswith("#contrastive-divergence"), page.url
    finally:
        page.close()


def test_desktop_menu_button_collapses_the_sidebar(site, desktop):
    page, _ = _open(desktop, "book/06_gibbs_and_contrastive_divergence.html")
    try:
        sidebar = page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible()
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_timeout(200)
        assert not sidebar.is_visible(), "☰ did not collapse the sidebar at 1280 px"
        assert not page.evaluate("document.getElementById('pst-primary-sidebar-modal').open")
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_timeout(200)
        assert sidebar.is_visible(), "☰ did not bring the sidebar back"
    finally:
        page.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_no_empty_bar_above_the_page(site, browser, server, width):
    b = Browsing(browser, server, dark=False, viewport={"width": width, "height": 900})
    try:
        page, _ = _open(b, "book/05_log_likelihood_gradient.html")
        header = page.evaluate(
            """() => { const h = document.querySelector('#pst-header');
                       return h ? h.getBoundingClientRect().height : 0; }"""
        )
        inputs = page.locator("input[name=q]:visible").count()
        top = page.evaluate(
            "document.querySelector('.bd-header-article').getBoundingClientRect().top"
        )
    finally:
        b.close()
    assert header == 0, f"the site header takes {header} px at {width} px"
    assert inputs == 0, f"{inputs} visible search boxes above the page at {width} px"
    assert top < 20, f"the article header starts {top} px down the page"


# ----------------------------------------------------------------------------- equations

EQUATIONS_JS = """
() => {
  const r = e => e.getBoundingClientRect();
  const out = {clipped: [], overlaps: [], scrolling: 0, numbers: 0, inlineOut: []};
  const article = document.querySelector('.bd-article');
  const right = r(article).right;
  for (const eq of article.querySelectorAll('mjx-container[display="true"]')) {
    const box = eq.closest('div.math') || eq;
    const label = (box.id || box.textContent).slice(0, 60);
    const wide = eq.scrollWidth > eq.clientWidth + 1;
    const style = getComputedStyle(eq);
    if (wide) {
      out.scrolling += 1;
      if (!['auto', 'scroll'].includes(style.overflowX)) out.clipped.push(label);
    }
    if (r(eq).right > right + 1) out.clipped.push(label + ' (past the column)');
    const number = box.querySelector(':scope > .eqno');
    if (number) {
      out.numbers += 1;
      const a = r(number), b = r(eq);
      const apart = a.right <= b.left + 1 || b.right <= a.left + 1 ||
                    a.bottom <= b.top + 1 || b.bottom <= a.top + 1;
      if (!apart) out.overlaps.push(label);
    }
  }
  for (const m of article.querySelectorAll('.admonition mjx-container:not([display])')) {
    const admonition = m.closest('.admonition');
    let scroller = m.parentElement, scrolls = false;
    while (scroller && scroller !== admonition) {
      if (['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)) {
        scrolls = true; break;
      }
      scroller = scroller.parentElement;
    }
    if (!scrolls && r(m).right > r(admonition).right + 1) {
      out.inlineOut.push(m.textContent.slice(0, 40));
    }
  }
  return out;
}
"""


@pytest.mark.parametrize("path", CHAPTERS or ["<no chapters>"], ids=lambda p: Path(p).stem)
def test_desktop_equations_fit_or_scroll(site, desktop, path):
    page, _ = _open(desktop, path)
    try:
        report = page.evaluate(EQUATIONS_JS)
    finally:
        page.close()
    assert not report["clipped"], f"{path}: equations cut off at 1280 px: {report['clipped']}"
    assert not report["overlaps"], f"{path}: equation numbers on formulas: {report['overlaps']}"


@pytest.mark.parametrize("path", CHAPTERS or ["<no chapters>"], ids=lambda p: Path(p).stem)
def test_phone_equations_numbers_and_boxes(site, phone, path):
    page, _ = _open(phone, path)
    try:
        report = page.evaluate(EQUATIONS_JS)
        width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        page.close()
    assert not report["clipped"], f"{path}: equations cut off at 390 px: {report['clipped']}"
    assert not report["overlaps"], (
        f"{path}: equation numbers overlap their formulas at 390 px: {report['overlaps']}"
    )
    assert not report["inlineOut"], (
        f"{path}: inline math runs out of its box at 390 px: {report['inlineOut']}"
    )
    assert width <= PHONE["width"], f"{path}: the page scrolls sideways at 390 px ({width} px)"


def test_proofs_end_with_a_mark(site, desktop):
    page, _ = _open(desktop, "book/07_pseudo_likelihood.html")
    try:
        marks = page.evaluate(
            """() => Array.from(document.querySelectorAll('div.proof.admonition'))
                 .filter(p => p.className === 'proof admonition')
                 .map(p => getComputedStyle(p.lastElementChild, '::after').content)"""
        )
    finally:
        page.close()
    assert marks, "no proof on the pseudo-likelihood page"
    assert all("∎" in m for m in marks), marks


# ---------------------------------------------------------------------- tables and output

OUTPUTS_JS = """
() => {
  const r = e => e.getBoundingClientRect();
  const article = document.querySelector('.bd-article');
  const right = r(article).right;
  const bad = [];
  const blocks = '.cell_output > .output, .pst-scrollable-table-container, table';
  for (const out of article.querySelectorAll(blocks)) {
    const style = getComputedStyle(out);
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    const what = [out.className, out.textContent.slice(0, 60)];
    if (r(out).right > right + 1) bad.push(['past the column', ...what]);
    if (out.scrollWidth > out.clientWidth + 1 && !scrolls && out.tagName !== 'TABLE')
      bad.push(['clipped', ...what]);
  }
  return bad;
}
"""


def test_chapter_10_results_are_one_block(site, desktop):
    page, _ = _open(desktop, "book/10_evaluating_with_ais.html")
    try:
        streams = page.evaluate(
            """() => Array.from(document.querySelectorAll('.cell_output'))
                 .map(o => o.querySelectorAll(':scope > .output.stream').length)"""
        )
        bad = page.evaluate(OUTPUTS_JS)
    finally:
        page.close()
    assert max(streams) <= 1, f"a cell's printed output is split into {max(streams)} boxes"
    assert not bad, bad


@pytest.mark.parametrize(
    "path,width",
    [("book/notation.html", 1280), ("book/status.html", 1280), ("book/notation.html", 390)],
)
def test_reference_tables_fit_or_scroll_as_a_block(site, browser, server, path, width):
    b = Browsing(browser, server, dark=False, viewport={"width": width, "height": 900})
    try:
        page, _ = _open(b, path)
        tables = page.evaluate(
            """() => Array.from(document.querySelectorAll('.bd-article table')).map(t => {
                 const box = t.closest('.pst-scrollable-table-container') || t.parentElement;
                 return {table: t.getBoundingClientRect().width, box: box.clientWidth,
                         overflow: getComputedStyle(box).overflowX,
                         lastHeader: t.querySelector('th:last-child')?.textContent};
               })"""
        )
        ja = page.evaluate(
            """() => Array.from(document.querySelectorAll('.bd-article [lang="ja"]'))
                 .map(e => getComputedStyle(e).fontFamily)"""
        )
    finally:
        b.close()
    assert tables, f"no table on {path}"
    for t in tables:
        if width >= 1280:
            assert t["table"] <= t["box"] + 1, f"{path}: a table is clipped at {width} px: {t}"
        else:
            assert t["table"] <= t["box"] + 1 or t["overflow"] in ("auto", "scroll"), t
    if path.endswith("notation.html"):
        assert ja, "the notation page marks no Japanese term with lang=ja"
        assert all("Noto Sans CJK JP" in f for f in ja), ja


# -------------------------------------------------------------------------------- figures

# The smallest font the book's style sets (rbm/plotting.py: tick and legend labels, 11 pt),
# in CSS pixels at the figure's nominal size (100 dpi).
SMALLEST_FONT_PX = 11 * 100 / 72
MIN_SHOWN_FONT_PX = 10

FIGURES_JS = """
() => Array.from(document.querySelectorAll('.bd-article .cell_output img')).map(img => ({
  src: img.getAttribute('src'), natural: img.naturalWidth,
  nominal: parseFloat(img.style.width) || Number(img.getAttribute('width')) || img.naturalWidth,
  shown: img.getBoundingClientRect().width,
  link: img.closest('a')?.getAttribute('href') || null,
}))
"""


@pytest.mark.parametrize("path", CHAPTERS or ["<no chapters>"], ids=lambda p: Path(p).stem)
def test_desktop_figures_are_sharp_and_readable(site, desktop, path):
    page, _ = _open(desktop, path)
    try:
        figures = page.evaluate(FIGURES_JS)
    finally:
        page.close()
    for f in figures:
        if f["shown"] < 50:
            continue
        assert f["natural"] >= 1.9 * f["nominal"], f"{path}: not a retina image: {f}"
        shown_font = SMALLEST_FONT_PX * f["shown"] / f["nominal"]
        assert shown_font >= MIN_SHOWN_FONT_PX, (
            f"{path}: {f['src']} is shrunk to {f['shown']:.0f} px of {f['nominal']} px: "
            f"its smallest labels show at {shown_font:.1f} px"
        )


def test_phone_figures_open_full_size(site, phone):
    page, _ = _open(phone, "book/11_training_in_practice.html")
    try:
        figures = page.evaluate(FIGURES_JS)
    finally:
        page.close()
    assert figures
    for f in figures:
        assert f["link"] and f["link"].split("/")[-1] == f["src"].split("/")[-1], f
        assert f["shown"] <= PHONE["width"], f


# ---------------------------------------------------------------------------- search


def test_search_snippets_have_no_tex(site, desktop, server):
    page = desktop.context.new_page()
    try:
        page.goto(urljoin(server, "search.html?q=free+energy+gradient"))
        page.wait_for_selector("#search-results .search-summary", timeout=30_000)
        page.wait_for_timeout(1500)
        snippets = page.eval_on_selector_all(
            "#search-results ul.search li p.context", "els => els.map(e => e.textContent)"
        )
    finally:
        page.close()
    assert snippets, "the search shows no snippets"
    raw = [s for s in snippets if RAW_TEX.search(s) or "glue(" in s]
    assert not raw, f"search snippets with TeX or code: {raw[:3]}"


# --------------------------------------------------------------------------- page weight


def _weigh(browser, server, path: str) -> tuple[int, int]:
    """Bytes and requests of a first visit (fresh context, no cache)."""
    context = browser.new_context(viewport=DESKTOP)
    sizes: list[int] = []
    try:
        page = context.new_page()
        page.on("requestfinished", lambda r: sizes.append(r.sizes()["responseBodySize"] or 0))
        page.goto(urljoin(server, path), wait_until="load")
        page.evaluate(
            "async () => { if (window.MathJax && MathJax.startup) await MathJax.startup.promise;"
            " await document.fonts.ready; }"
        )
        page.wait_for_timeout(500)
    finally:
        context.close()
    return sum(sizes), len(sizes)


def test_page_weight(site, browser, server, artifacts):
    rows = []
    for path in ["book/intro.html", "book/notation.html", "book/status.html", *CHAPTERS]:
        total, requests = _weigh(browser, server, path)
        rows.append({"page": path, "bytes": total, "requests": requests})
    (artifacts / "page-weights.json").write_text(json.dumps(rows, indent=1) + "\n")
    report = "\n".join(
        f"{r['page']}: {r['bytes'] / 1e6:.2f} MB, {r['requests']} requests" for r in rows
    )
    print(report)
    heavy = [r for r in rows if r["bytes"] > MAX_PAGE_BYTES]
    assert not heavy, f"pages above {MAX_PAGE_BYTES / 1e6} MB:\n{report}"
    front = rows[0]
    assert front["bytes"] <= MAX_TEXT_PAGE_BYTES, f"the front page weighs {front}"


# ---------------------------------------------------------------------------- screenshots


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("path", SCREENSHOT_CHAPTERS, ids=lambda p: Path(p).stem[:2])
def test_screenshots_phone_and_desktop(site, browser, server, artifacts, path, dark):
    """PNG screenshots to look at: the top of the page, its first wide equation and its first
    output, at 390 and 1280 px."""
    out = artifacts / "reader-screenshots"
    out.mkdir(parents=True, exist_ok=True)
    mode = "dark" if dark else "light"
    for viewport in (PHONE, DESKTOP):
        b = Browsing(browser, server, dark=dark, viewport=viewport)
        try:
            page, watch = _open(b, path)
            stem = f"{Path(path).stem[:2]}-{viewport['width']}-{mode}"
            page.screenshot(path=str(out / f"{stem}-top.png"))
            for name, selector in (
                ("equation", ".bd-article div.math.rbm-scrolls, .bd-article div.math"),
                ("output", ".bd-article .cell_output"),
            ):
                target = page.locator(selector).first
                if target.count():
                    target.scroll_into_view_if_needed()
                    page.evaluate("window.scrollBy(0, -120)")
                    page.wait_for_timeout(100)
                    page.screenshot(path=str(out / f"{stem}-{name}.png"))
        finally:
            b.close()
        assert not watch.console, watch.console
