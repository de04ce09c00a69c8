"""The built site loads nothing from outside: every script, style sheet and font is local."""

from __future__ import annotations

import re

SRC = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.I)


def test_mathjax_is_vendored(site):
    """tools/build_mathjax.py's MathJax (startup, core, TeX, CommonHTML) and its fonts."""
    assert (site / "mathjax" / "tex-chtml-book.js").stat().st_size > 700_000
    fonts = list((site / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) > 20


def test_pages_load_only_local_resources(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 3
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for url in SRC.findall(html):
            if url.startswith(("#", "mailto:")):
                continue
            assert "://" not in url and not url.startswith("//"), (
                f"{page.relative_to(site)} loads an external resource: {url}"
            )
