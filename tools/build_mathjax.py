"""Write `_vendor/mathjax/tex-chtml-book.js`: MathJax 3 with only what the book's TeX needs.

    npm pack mathjax@3.2.2 && tar xzf mathjax-3.2.2.tgz
    python tools/build_mathjax.py package/es5

The combined `tex-chtml-full.js` (1.33 MB) carries every TeX extension, the right-click
menu (0.43 MB) and the speech tools. The book's formulas use TeX's base macros, `ams`
(`aligned`, `cases`, `\\operatorname`, `\\tfrac`) and `boldsymbol`; this file is MathJax's
own components for those, concatenated in the order the loader would run them (startup,
core, TeX input, its two extensions, CommonHTML output and its font, and the MathML copy
that screen readers read), then marked as loaded so that the loader fetches nothing more.
About 0.75 MB, one request. A macro outside these packages shows as a red error box
(MathJax's `mjx-merror`), which the site tests look for on every page.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

VERSION = "3.2.2"
ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "_vendor" / "mathjax" / "tex-chtml-book.js"

# In the order they must run: startup first, so that each component registers with it.
COMPONENTS = [
    ("startup", "startup.js"),
    ("core", "core.js"),
    ("input/tex-base", "input/tex-base.js"),
    ("[tex]/ams", "input/tex/extensions/ams.js"),
    ("[tex]/boldsymbol", "input/tex/extensions/boldsymbol.js"),
    ("output/chtml", "output/chtml.js"),
    ("output/chtml/fonts/tex", "output/chtml/fonts/tex.js"),
    ("a11y/assistive-mml", "a11y/assistive-mml.js"),
]
TEX_PACKAGES = ["base", "ams", "boldsymbol"]

# Runs before startup.js: the page's configuration (Sphinx writes `window.MathJax = {...}`
# first) gets the TeX packages, and the loader is told to load nothing itself.
PROLOGUE = """/* MathJax %(version)s (Apache License 2.0, see LICENSE) for the book's TeX:
   %(names)s. Written by tools/build_mathjax.py from npm's mathjax@%(version)s; do not edit. */
(function () {
  var c = (window.MathJax = window.MathJax || {});
  c.loader = c.loader || {};
  c.loader.load = [];
  c.tex = c.tex || {};
  c.tex.packages = c.tex.packages || %(packages)s;
})();
"""
# Runs after every component: they are all here, so the loader must not fetch them.
EPILOGUE = "MathJax.loader.preLoad(%s);\n"


def build(es5: Path) -> str:
    version = re.search(r'VERSION="([0-9.]+)"', (es5 / "core.js").read_text(encoding="utf-8"))
    if version is None or version.group(1) != VERSION:
        raise SystemExit(f"{es5}: expected MathJax {VERSION}'s es5 folder")
    names = [name for name, _ in COMPONENTS]
    parts = [
        PROLOGUE
        % {"version": VERSION, "names": ", ".join(names), "packages": json.dumps(TEX_PACKAGES)}
    ]
    for _, file in COMPONENTS:
        parts.append((es5 / file).read_text(encoding="utf-8").rstrip("\n") + ";\n")
    parts.append(EPILOGUE % ", ".join(json.dumps(n) for n in names if n != "startup"))
    return "".join(parts)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    text = build(Path(argv[0]))
    tmp = TARGET.with_suffix(".js.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(TARGET)
    print(f"{TARGET.relative_to(ROOT)}: {len(text.encode()):,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
