"""The book as readers get it: every page opened in headless Chromium, offline.

Checks, per page: no console errors, no failed or non-local requests, every
equation typeset by MathJax (no raw TeX left), every image loaded; a full-page
screenshot in light and in dark mode goes to `test-artifacts/screenshots/`.
Across the site: search, previous/next navigation, the table of contents.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from conftest import reader_pages, toc_files
from reader_checks import SCREENSHOT_CHAPTERS, desktop_layout_problems, screenshot_views

PAGES = reader_pages()
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000

# Text that only shows up when MathJax did not run on an equation.
RAW_TEX = re.compile(
    r"\$\$|\\\(|\\\)|\\\[|\\\]|\\(?:frac|mathbf|begin|end|sum|prod|mathrm|operatorname|sigma|left|right|log|exp)\b"
)

MATH_REPORT_JS = """
async () => {
  const report = {hasMathJax: !!(window.MathJax && window.MathJax.startup)};
  if (report.hasMathJax) { await window.MathJax.startup.promise; }
  await document.fonts.ready;
  const sources = Array.from(document.querySelectorAll('span.math, div.math'));
  report.nSources = sources.length;
  report.nContainers = document.querySelectorAll('mjx-container').length;
  report.untypeset = sources.filter(e => !e.querySelector('mjx-container'))
                            .map(e => e.textContent.trim().slice(0, 100));
  report.mathErrors = Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
    .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 100));
  const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'NOSCRIPT',
                        'MJX-CONTAINER']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let p = node.parentElement; p; p = p.parentElement) {
        if (skip.has(p.tagName)) return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    }
  });
  report.texts = [];
  while (walker.nextNode()) {
    const t = walker.currentNode.textContent;
    if (t.includes('\\\\') || t.includes('$')) report.texts.push(t.trim().slice(0, 200));
  }
  return report;
}
"""

IMAGES_JS = """
async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  const settle = i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); });
  await Promise.race([Promise.all(imgs.map(settle)), new Promise(r => setTimeout(r, 10000))]);
  return {n: imgs.length,
          broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
                      .map(i => i.getAttribute('src'))};
}
"""

# For every figure in a cell output: is the image itself opaque at its corners (the
# book's figures have a white face colour)? Read from the decoded pixels.
FIGURE_ALPHA_JS = """
() => Array.from(document.querySelectorAll('.bd-article .cell_output img')).map(img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const w = c.width - 1, h = c.height - 1;
  const corners = [[0, 0], [w, 0], [0, h], [w, h]]
    .map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data));
  return {src: img.getAttribute('src'), corners};
})
"""


# Bytes (uncompressed) and requests of each page's first visit, filled in by
# test_page_in_light_mode and checked by test_reader_layout.py::test_page_weight.
WEIGHTS: dict[str, tuple[int, int]] = {}


def page_weight(site: Path, urls: list[str]) -> tuple[int, int]:
    """Total size of the site's files behind `urls` (the local server sends them as they are)."""
    total = 0
    for url in urls:
        path = urlparse(url).path.lstrip("/") or "index.html"
        file = site / path
        if file.is_file():
            total += file.stat().st_size
    return total, len(urls)


def _page_id(path: str) -> str:
    return path.removesuffix(".html").replace("/", "__")


class Watch:
    """Records what went wrong while a page loaded."""

    def __init__(self, page, base: str):
        self.console: list[str] = []
        self.failed: list[str] = []
        self.pending: set = set()
        self.loaded: list[str] = []  # URLs of everything the page loaded, for its weight
        page.on("request", lambda r: self.pending.add(r))
        page.on("requestfinished", lambda r: self.pending.discard(r))
        page.on("requestfinished", lambda r: self.loaded.append(r.url))
        page.on("requestfailed", lambda r: self.pending.discard(r))
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("pageerror", lambda e: self.console.append(f"uncaught: {e}"))
        page.on(
            "requestfailed",
            lambda r: r.url.startswith(base) and self.failed.append(f"{r.url} ({r.failure})"),
        )
        page.on(
            "response",
            lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})"),
        )


class Browsing:
    """A browser context whose requests outside 127.0.0.1 are aborted and recorded."""

    def __init__(
        self,
        browser,
        server: str,
        dark: bool,
        javascript: bool = True,
        viewport: dict | None = None,
    ):
        mode = "dark" if dark else "light"
        self.server = server
        self.external: list[str] = []
        viewport = viewport or VIEWPORT
        self.context = browser.new_context(
            viewport=viewport,
            color_scheme=mode,
            java_script_enabled=javascript,
            # a phone-sized window is a touch screen (taps, no hover)
            has_touch=viewport["width"] < 600,
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        if dark:
            # As after a click on the theme switcher: pydata-sphinx-theme keeps the
            # reader's choice in localStorage and applies it before it paints. The light
            # context is a first visit (nothing stored; the system scheme is light).
            self.context.add_init_script(
                "localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');"
            )
        self.context.route("**/*", self._route)

    def _route(self, route):
        url = urlparse(route.request.url)
        if url.hostname == "127.0.0.1" and url.port == urlparse(self.server).port:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def open(self, path: str):
        """Open a page; returns (page, watch, number of external requests before)."""
        page = self.context.new_page()
        watch = Watch(page, self.server)
        before = len(self.external)
        page.goto(urljoin(self.server, path), wait_until="load")
        return page, watch, before

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def light(browser, server):
    b = Browsing(browser, server, dark=False)
    yield b
    b.close()


@pytest.fixture(scope="module")
def static(browser, server):
    """Without JavaScript: for following plain links quickly (no MathJax on every hop)."""
    b = Browsing(browser, server, dark=False, javascript=False)
    yield b
    b.close()


@pytest.fixture(scope="module")
def dark(browser, server):
    b = Browsing(browser, server, dark=True)
    yield b
    b.close()


def _settle(page, watch) -> dict:
    """Wait for MathJax and the fonts, then until no request is in flight (at most 10 s)."""
    report = page.evaluate(MATH_REPORT_JS)
    for _ in range(100):
        if not watch.pending:
            break
        page.wait_for_timeout(100)
    return report


# Chromium cannot capture surfaces much taller than this in one piece.
MAX_SHOT_HEIGHT = 16_000


def _screenshot(page, out: Path) -> tuple[list[tuple[str, dict]], Path]:
    """A full-page JPEG (PNG encoding of tall pages is several times slower).

    Returns the page-coordinate boxes of the output figures, for reading pixels back.
    """
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(height, MAX_SHOT_HEIGHT)})
    # the shot is of the viewport: start it at the top of a page taller than the cap,
    # or the page coordinates of the boxes below point at other pixels
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(100)
    boxes = page.eval_on_selector_all(
        ".bd-article .cell_output img",
        """els => els.map(e => { const r = e.getBoundingClientRect();
             return [e.getAttribute('src'), {x: r.left + scrollX, y: r.top + scrollY,
                                             width: r.width, height: r.height}]; })""",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), type="jpeg", quality=80)
    return boxes, out


@pytest.mark.parametrize("path", PAGES or ["<no site>"], ids=_page_id)
def test_page_in_light_mode(site, light, artifacts, path):
    page, watch, before = light.open(path)
    try:
        report = _settle(page, watch)
        images = page.evaluate(IMAGES_JS)
        page.wait_for_timeout(200)  # fonts MathJax asked for
        # routing disables the browser cache: this is a first visit's weight
        WEIGHTS[path] = page_weight(site, watch.loaded)
        layout = desktop_layout_problems(page, path) if path.startswith("book/") else []
        if path in SCREENSHOT_CHAPTERS:
            screenshot_views(
                page, artifacts / "reader-screenshots", f"{Path(path).stem[:2]}-1280-light"
            )
        figures = page.evaluate(FIGURE_ALPHA_JS)
        _screenshot(page, artifacts / "screenshots" / "light" / f"{_page_id(path)}.jpg")
    finally:
        page.close()

    external = light.external[before:]
    assert not external, f"{path} requested outside 127.0.0.1: {external}"
    assert not watch.failed, f"{path} has failed requests: {watch.failed}"
    assert not watch.console, f"{path} logged console errors: {watch.console}"

    if report["nSources"]:
        assert report["hasMathJax"], f"{path} has {report['nSources']} equations, no MathJax"
    untypeset = report["untypeset"]
    assert not untypeset, f"{path}: equations MathJax did not typeset: {untypeset[:5]}"
    assert report["nContainers"] >= report["nSources"], report
    assert not report["mathErrors"], f"{path}: MathJax errors: {report['mathErrors'][:5]}"
    raw = [t for t in report["texts"] if RAW_TEX.search(t)]
    assert not raw, f"{path} shows raw TeX: {raw[:5]}"

    assert not layout, "\n".join(layout)
    assert not images["broken"], f"{path} has images that did not load: {images['broken']}"
    transparent = [f["src"] for f in figures if any(px[3] < 255 for px in f["corners"])]
    assert not transparent, f"{path}: figures with a transparent background: {transparent}"


def _luminance(rgb) -> float:
    r, g, b = rgb[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("path", PAGES or ["<no site>"], ids=_page_id)
def test_page_in_dark_mode(site, dark, artifacts, path):
    from PIL import Image

    page, watch, before = dark.open(path)
    try:
        _settle(page, watch)
        theme = page.evaluate("document.documentElement.dataset.theme")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        if path in SCREENSHOT_CHAPTERS:
            screenshot_views(
                page, artifacts / "reader-screenshots", f"{Path(path).stem[:2]}-1280-dark"
            )
        boxes, shot = _screenshot(
            page, artifacts / "screenshots" / "dark" / f"{_page_id(path)}.jpg"
        )
    finally:
        page.close()

    assert theme == "dark", f"{path} did not switch to dark mode (data-theme={theme!r})"
    page_lum = _luminance([int(v) for v in re.findall(r"\d+", background)[:3]])
    assert page_lum < 60, f"{path}: the dark page background is not dark: {background}"
    # Each output figure as the reader sees it: the corners of its box on the screenshot
    # must be light, so that the figure's dark labels and ticks stay readable.
    image = Image.open(shot).convert("RGB")
    dim = []
    for src, box in boxes:
        if box["width"] < 8 or box["height"] < 8 or box["y"] + box["height"] > image.height:
            continue
        x0, y0 = int(box["x"]) + 3, int(box["y"]) + 3
        x1, y1 = int(box["x"] + box["width"]) - 4, int(box["y"] + box["height"]) - 4
        lum = min(_luminance(image.getpixel((x, y))) for x in (x0, x1) for y in (y0, y1))
        if lum < 150:
            dim.append((src, round(lum)))
    assert not dim, f"{path}: figures that render dark in dark mode: {dim}"
    assert not dark.external[before:], f"{path} requested outside 127.0.0.1 in dark mode"
    assert not watch.failed and not watch.console, (watch.failed, watch.console)


def _path_of(url: str, server: str) -> str:
    return urlparse(url).path.lstrip("/")


def test_previous_next_follow_the_table_of_contents(site, static, server):
    expected = [f + ".html" for f in toc_files()]
    page = static.context.new_page()
    try:
        page.goto(urljoin(server, "index.html"))  # the root redirects (meta refresh)
        page.wait_for_url(re.compile(re.escape(expected[0]) + "$"))
        forward = [_path_of(page.url, server)]
        for _ in range(len(expected) + 2):
            nxt = page.locator(".prev-next-area a.right-next")
            if nxt.count() == 0:
                break
            with page.expect_navigation(wait_until="domcontentloaded"):
                nxt.first.click()
            forward.append(_path_of(page.url, server))
        backward = [forward[-1]]
        for _ in range(len(expected) + 2):
            prev = page.locator(".prev-next-area a.left-prev")
            if prev.count() == 0:
                break
            with page.expect_navigation(wait_until="domcontentloaded"):
                prev.first.click()
            backward.append(_path_of(page.url, server))
    finally:
        page.close()
    assert forward == expected, (
        f"'next' from the front page visits {forward}, the toc says {expected}"
    )
    assert backward == expected[::-1], f"'previous' from the last page visits {backward}"


def test_table_of_contents_links_resolve(site, light, server):
    expected = {f + ".html" for f in toc_files()}
    page = light.context.new_page()
    try:
        page.goto(urljoin(server, toc_files()[0] + ".html"))
        sidebar = page.eval_on_selector_all(
            "nav.bd-docs-nav a.reference", "els => els.map(e => e.href)"
        )
        on_page = page.eval_on_selector_all(
            ".toctree-wrapper a.reference", "els => els.map(e => e.href)"
        )
        home = page.eval_on_selector_all("a.navbar-brand", "els => els.map(e => e.href)")
        links = sidebar + on_page + home
        statuses = {u: light.context.request.get(u).status for u in links}
        # follow the last chapter's link by clicking it, as a reader would
        last = page.locator("nav.bd-docs-nav a.reference").last
        last_href = last.get_attribute("href")
        last.click()
        page.wait_for_load_state("load")
        h1 = page.locator("article h1").first.inner_text()
        landed = _path_of(page.url, server)
    finally:
        page.close()
    bad = {u: s for u, s in statuses.items() if s != 200}
    assert not bad, f"table of contents links that do not resolve: {bad}"
    in_sidebar = {_path_of(u, server).split("#")[0] for u in sidebar + home}
    assert expected <= in_sidebar, (
        f"toc documents missing from the sidebar: {expected - in_sidebar}"
    )
    assert {_path_of(u, server).split("#")[0] for u in on_page} == expected - {
        toc_files()[0] + ".html"
    }, "the front page's chapter map does not list every document of the toc"
    assert landed.endswith(Path(last_href).name.split("#")[0]) and h1.strip()


def _titles(site: Path) -> dict[str, str]:
    titles = {}
    for path in reader_pages(site):
        m = re.search(r"<title>(.*?)</title>", (site / path).read_text(encoding="utf-8"), re.S)
        if m:
            titles[path] = m.group(1).split("&#8212;")[0].split("—")[0].strip()
    return titles


def _search(context, server, query: str) -> list[tuple[str, str]]:
    page = context.context.new_page()
    try:
        page.goto(urljoin(server, "search.html?q=" + query.replace(" ", "+")))
        page.wait_for_selector("#search-results .search-summary", timeout=TIMEOUT_MS)
        return page.eval_on_selector_all(
            "#search-results ul.search > li > a", "els => els.map(e => [e.textContent, e.href])"
        )
    finally:
        page.close()


def test_search_works(site, light, server):
    results = _search(light, server, "Boltzmann")
    assert results, "searching for 'Boltzmann' found nothing"


def test_search_finds_the_free_energy_chapter(site, light, server):
    titles = _titles(site)
    wanted = {p for p, t in titles.items() if "free energy" in t.lower()}
    if "book/03_free_energy" in toc_files():
        assert "book/03_free_energy.html" in wanted, (
            "chapter 03's title does not mention the free energy"
        )
    if not wanted:
        pytest.skip("no page titled 'free energy' yet")
    results = _search(light, server, "free energy")
    top = [_path_of(href, server).split("#")[0].split("?")[0] for _, href in results[:3]]
    assert wanted & set(top), (
        f"top results for 'free energy' are {top}; expected one of {sorted(wanted)}"
    )
