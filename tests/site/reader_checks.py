"""Checks of a page's layout as a reader sees it (issue 18), shared by the browser tests.

`test_browser.py` runs the desktop checks on the pages it opens anyway (1280 px, light mode);
`test_reader_layout.py` runs them at phone width.
"""

from __future__ import annotations

from pathlib import Path

# Chapters whose screenshots (PNG, 390 and 1280 px, light and dark) go to
# test-artifacts/reader-screenshots/ to be looked at.
SCREENSHOT_CHAPTERS = [
    "book/05_log_likelihood_gradient.html",
    "book/06_gibbs_and_contrastive_divergence.html",
    "book/10_evaluating_with_ais.html",
]

EQUATIONS_JS = """
() => {
  const r = e => e.getBoundingClientRect();
  const out = {clipped: [], overlaps: [], wide: [], noCue: [], scrolling: 0, numbers: 0,
               inlineOut: []};
  const article = document.querySelector('.bd-article');
  const right = r(article).right;
  for (const eq of article.querySelectorAll('mjx-container[display="true"]')) {
    const box = eq.closest('div.math') || eq;
    const label = (box.id || box.textContent).slice(0, 60);
    const wide = eq.scrollWidth > eq.clientWidth + 1;
    const style = getComputedStyle(eq);
    if (wide) {
      out.scrolling += 1;
      out.wide.push(label);
      // the cue: a shadow on the side that hides more of the formula
      if (!box.classList.contains('rbm-scrolls') || style.boxShadow === 'none')
        out.noCue.push(label);
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


# Outputs, tables: each fits the column or scrolls as one block (an element inside a
# scrolling block is fine).
OUTPUTS_JS = """
() => {
  const r = e => e.getBoundingClientRect();
  const article = document.querySelector('.bd-article');
  const right = r(article).right;
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const insideScroller = e => {
    for (let p = e.parentElement; p && p !== article; p = p.parentElement) {
      if (scrolls(p)) return true;
    }
    return false;
  };
  const bad = [];
  const blocks = '.cell_output > .output, .pst-scrollable-table-container, table';
  for (const out of article.querySelectorAll(blocks)) {
    if (insideScroller(out)) continue;
    const what = [out.className, out.textContent.trim().slice(0, 60)];
    if (r(out).right > right + 1) bad.push(['past the column', ...what]);
    else if (out.scrollWidth > out.clientWidth + 1 && !scrolls(out))
      bad.push(['clipped', ...what]);
  }
  return bad;
}
"""

# The book's figure font (rbm/plotting.py: 10 pt, for tick and legend labels too), in CSS
# pixels at the figure's nominal size (100 dpi). Figures whose code asks for a smaller font
# are not caught by this estimate.
SMALLEST_FONT_PX = 10 * 100 / 72
MIN_SHOWN_FONT_PX = 10

FIGURES_JS = """
() => Array.from(document.querySelectorAll('.bd-article .cell_output img')).map(img => ({
  src: img.getAttribute('src'), natural: img.naturalWidth,
  nominal: parseFloat(img.style.width) || Number(img.getAttribute('width')) || img.naturalWidth,
  shown: img.getBoundingClientRect().width,
  aspect: img.naturalWidth / img.naturalHeight,
  shownAspect: img.getBoundingClientRect().width / img.getBoundingClientRect().height,
  link: img.closest('a')?.getAttribute('href') || null,
}))
"""


# Code (not printed output) at 1280 px: each box stays in the text column; a line longer
# than the column scrolls inside its box; a box taller than about 30 lines (MAX_CODE_PX)
# scrolls inside itself.
MAX_CODE_PX = 560
CODE_JS = """
(maxHeight) => {
  const article = document.querySelector('.bd-article').getBoundingClientRect();
  const scrolls = (e, axis) => ['auto', 'scroll'].includes(getComputedStyle(e)[axis]);
  const bad = [];
  for (const p of document.querySelectorAll('.bd-article div.highlight pre')) {
    if (p.closest('.cell_output') || p.closest('details.hide')) continue;
    const box = p.getBoundingClientRect(), what = p.textContent.slice(0, 60);
    if (box.right > article.right + 1) bad.push(['past the column', what]);
    if (p.scrollWidth > p.clientWidth + 1 && !scrolls(p, 'overflowX'))
      bad.push(['cut off', what]);
    if (p.closest('.cell_input') && box.height > maxHeight) bad.push(['too tall', what]);
    if (p.scrollHeight > p.clientHeight + 1 && !scrolls(p, 'overflowY'))
      bad.push(['cut off below', what]);
  }
  return bad;
}
"""


def desktop_layout_problems(page, path: str) -> list[str]:
    """At 1280 px: display equations that are cut off or under their number, outputs and
    tables that are cut off, code boxes past the column, cut off or taller than MAX_CODE_PX,
    figures that are not retina or whose labels show below 10 px."""
    problems = []
    equations = page.evaluate(EQUATIONS_JS)
    if equations["clipped"]:
        problems.append(f"{path}: equations cut off: {equations['clipped']}")
    if equations["overlaps"]:
        problems.append(f"{path}: equation numbers on formulas: {equations['overlaps']}")
    if equations["wide"]:
        # every display equation is broken into lines that fit the 1280 px column; the
        # scrolling (with its cue) is for narrower screens
        problems.append(f"{path}: equations wider than the column: {equations['wide']}")
    code = page.evaluate(CODE_JS, MAX_CODE_PX)
    if code:
        problems.append(f"{path}: code boxes at 1280 px: {code}")
    outputs = page.evaluate(OUTPUTS_JS)
    if outputs:
        problems.append(f"{path}: outputs cut off: {outputs}")
    for f in page.evaluate(FIGURES_JS):
        if f["shown"] < 50:
            continue
        if abs(f["shownAspect"] / f["aspect"] - 1) > 0.02:
            problems.append(f"{path}: a figure is shown squeezed out of shape: {f}")
        if f["natural"] < 1.9 * f["nominal"]:
            problems.append(f"{path}: not a retina image: {f}")
        shown_font = SMALLEST_FONT_PX * f["shown"] / f["nominal"]
        if shown_font < MIN_SHOWN_FONT_PX:
            problems.append(
                f"{path}: {f['src']} is shrunk to {f['shown']:.0f} px of {f['nominal']} px: "
                f"its smallest labels show at {shown_font:.1f} px"
            )
    return problems


def screenshot_views(page, out_dir: Path, stem: str) -> list[Path]:
    """PNG screenshots of the viewport: the top of the page, its first display equation that
    scrolls (or its first one), and its first cell output."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [out_dir / f"{stem}-top.png"]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots[0]))
    for name, selector in (
        ("equation", ".bd-article div.math.rbm-scrolls"),
        ("equation", ".bd-article div.math"),
        ("output", ".bd-article .cell_output"),
    ):
        shot = out_dir / f"{stem}-{name}.png"
        target = page.locator(selector).first
        if shot in shots or not target.count():
            continue
        target.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -150)")
        page.wait_for_timeout(100)
        page.screenshot(path=str(shot))
        shots.append(shot)
    return shots
