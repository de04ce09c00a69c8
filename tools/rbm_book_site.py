"""A small Sphinx extension for the book's website (loaded from `_config.yml`).

- ``{package-versions}``: a table of the versions of the packages the book was
  built with, read from the build's own environment at build time (so the
  status page needs no notebook, and no stored output goes stale).
- A ``.md`` entry in each chapter's download menu: the chapter's MyST source
  (the jupytext pair of the ``.ipynb``), copied into ``_sources/``.
- Each page's script list without duplicates (sphinx-thebe registers its
  configuration script twice, which throws "THEBE_JS_URL has already been
  declared" in the browser console).
- Code as a reader meets it (``ReaderCode``): a chapter's setup cells (the Colab
  install cell and the imports cell, the code cells before the first prose) are
  folded behind a "Show" toggle; the ``glue`` bookkeeping lines are left out of
  the code shown on the page; package source shown with ``literalinclude`` keeps
  a one-line summary of its numpydoc docstring. The notebooks keep everything.
- The repository switch: until ``_config.yml`` names a real repository
  (``rbm_book_repository_live: true``, set by ``tools/set_repository_url.py``),
  the launch, repository and issue buttons and the Colab install cell are left
  out, so that nothing on the site points to a repository that does not exist.
- A lighter site: no source maps, no Font Awesome bundle (the few icons the
  theme uses are drawn by ``_static/rbm-icons.css``, and the admonitions' icon
  glyphs come from a subset of its font), the theme's stylesheet without the
  rules for classes no page or script uses, sphinx-design's files only on pages
  that use it, no search index on pages that do not search, MathJax only on
  pages with math.
- Japanese words marked ``lang="ja"``.
"""

from __future__ import annotations

import ast
import platform
import re
import shutil
import textwrap
from importlib import metadata
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

# The toolchain and the libraries the chapters use, in the order the table shows them.
PACKAGES = [
    "rbm",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-learn",
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "sphinx-book-theme",
    "jupytext",
    "nbval",
    "ipykernel",
    "pytest",
    "playwright",
]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


class PackageVersions(SphinxDirective):
    """Insert a two-column table: package, version (plus Python itself)."""

    has_content = False

    def run(self):
        rows = [("Python", platform.python_version())] + [(p, _version(p)) for p in PACKAGES]
        table = nodes.table(classes=["package-versions"])
        group = nodes.tgroup(cols=2)
        table += group
        group += nodes.colspec(colwidth=1)
        group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        body = nodes.tbody()
        group += body
        for target, cells in ((head, [("package", "version")]), (body, rows)):
            for name, version in cells:
                row = nodes.row()
                for text in (name, version):
                    entry = nodes.entry()
                    entry += nodes.paragraph(text=text)
                    row += entry
                target += row
        return [table]


# --------------------------------------------------------------------------------------
# Code as a reader meets it


def _is_glue_call(stmt) -> bool:
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        return isinstance(func, ast.Name) and func.id == "glue"
    if isinstance(stmt, ast.ImportFrom) and stmt.module in ("myst_nb", "myst_nb.glue"):
        return all(alias.name == "glue" for alias in stmt.names)
    return False


def _is_bookkeeping(stmt) -> bool:
    """A `glue(...)` call, its import, or a loop/branch that holds nothing else."""
    if _is_glue_call(stmt):
        return True
    if isinstance(stmt, (ast.For, ast.If, ast.With)):
        parts = stmt.body + getattr(stmt, "orelse", [])
        return bool(parts) and all(_is_bookkeeping(s) for s in parts)
    return False


def _squeeze_blank_lines(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def strip_glue(code: str) -> str:
    """`code` without its `glue` bookkeeping (the calls that hand numbers to the text).

    Returns `code` unchanged when it does not parse, or when removing the calls
    would leave code that does not parse.
    """
    if "glue" not in code:
        return code
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    drop: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or not body or not isinstance(body[0], ast.stmt):
                continue
            kept = [s for s in body if not _is_bookkeeping(s)]
            if not kept and not isinstance(node, ast.Module):
                continue  # the parent is bookkeeping itself, or must keep a body
            for s in body:
                if _is_bookkeeping(s):
                    drop.update(range(s.lineno - 1, s.end_lineno))
    if not drop:
        return code
    lines = [line for i, line in enumerate(code.splitlines()) if i not in drop]
    result = _squeeze_blank_lines(lines)
    try:
        ast.parse(result)
    except SyntaxError:
        return code
    return result


_DOCSTRING_OPEN = re.compile(r"^(\s*)([rRuU]?)(\"\"\"|\'\'\')(.*)$")


def summarise_docstrings(code: str) -> str:
    """Shorten every docstring in `code` to its first line (the numpydoc summary).

    What a page shows of the package's source: the signature, a one-line summary
    and the code, without the reST of the docstring's body (the notebooks and the
    package keep it).
    """
    dedented = textwrap.dedent(code)
    try:
        tree = ast.parse(dedented)
    except SyntaxError:
        return code
    lines = code.splitlines()
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = node.body[0] if node.body else None
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        if first.end_lineno == first.lineno:
            continue  # already one line
        spans.append((first.lineno - 1, first.end_lineno))
    for start, end in sorted(spans, reverse=True):
        m = _DOCSTRING_OPEN.match(lines[start])
        if m is None:
            continue
        indent, prefix, quote, rest = m.groups()
        # the summary: the docstring's first paragraph, joined into one line
        body = [rest, *lines[start + 1 : end]]
        while body and not body[0].strip():
            body.pop(0)
        paragraph = []
        for line in body:
            if not line.strip():
                break
            paragraph.append(line.strip())
        summary = " ".join(paragraph)
        summary = summary.split(quote)[0].strip()
        lines[start:end] = [f"{indent}{prefix}{quote}{_plain(summary)}{quote}"]
    return "\n".join(lines)


_MATH_ROLE = re.compile(r"\s*:math:`[^`]*`")


def _plain(summary: str) -> str:
    """A summary line without inline reST math (`Free energy :math:`F(v)`.` -> `Free energy.`)."""
    text = _MATH_ROLE.sub("", summary)
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _set_code(block: nodes.literal_block, text: str) -> None:
    block.rawsource = text
    block.children = [nodes.Text(text)]


def _is_cell(node, element: str) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == element


def setup_cells(document) -> list[nodes.container]:
    """The code cells a chapter opens with, before its first paragraph of prose."""
    cells = []
    for node in document.findall(nodes.Element):
        if _is_cell(node, "cell_code"):
            cells.append(node)
        elif isinstance(node, nodes.paragraph) and not any(
            _is_cell(a, "cell_code") for a in _ancestors(node)
        ):
            break
    return cells


def _ancestors(node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def _hide_input(cell: nodes.container, show: str, hide: str) -> None:
    if cell.get("hide_mode"):
        return
    cell["hide_mode"] = "input"
    cell["prompt_show"] = show
    cell["prompt_hide"] = hide


class ReaderCode(SphinxPostTransform):
    """Setup cells folded (or the Colab cell left out), glue calls and docstring bodies
    left out of the code shown. Runs before myst-nb wraps hidden inputs (priority 199)."""

    default_priority = 150
    formats = ("html",)

    def run(self, **kwargs):
        reader_code(self.document, live=bool(self.config.rbm_book_repository_live))


# No cell is widened beyond the text column (sphinx-book-theme's `full-width` class): on a
# desktop the page's contents box stands beside the column, and a wide cell ran under it.
# _static/rbm-book.css keeps every block in the column; long code lines scroll in their box.


def reader_code(document, live: bool) -> None:
    """What `ReaderCode` does to a page's doctree (a function, so the tests can call it)."""
    for block in list(document.findall(nodes.literal_block)):
        source = str(block.get("source") or "")
        if source.endswith(".py"):  # a literalinclude (notebook cells come from .ipynb)
            _set_code(block, summarise_docstrings(block.astext()))

    for cell in setup_cells(document):
        if "google.colab" in cell.astext():
            if not live:
                cell.parent.remove(cell)
                continue
            _hide_input(cell, "Show the Colab install cell", "Hide the Colab install cell")
        else:
            _hide_input(cell, "Show the setup code", "Hide the setup code")

    for source in list(document.findall(nodes.container)):
        if not _is_cell(source, "cell_code_source"):
            continue
        for block in list(source.findall(nodes.literal_block)):
            stripped = strip_glue(block.astext())
            if stripped != block.astext():
                _set_code(block, stripped)
        if not source.astext().strip():
            cell = source.parent
            cell.remove(source)
            if not cell.children:
                cell.parent.remove(cell)


# --------------------------------------------------------------------------------------
# The repository switch


def _repository_switch(app, config):
    """Without a real repository, no launch, repository or issue buttons. With one, the tag
    `rbm_repository_live` is set, for text that mentions them (``{only}`` directives)."""
    if config.rbm_book_repository_live:
        if app is not None:
            app.tags.add("rbm_repository_live")
        return
    options = dict(config.html_theme_options or {})
    for key in ("use_repository_button", "use_issues_button", "use_edit_page_button"):
        options[key] = False
    options["launch_buttons"] = {}
    config.html_theme_options = options


# --------------------------------------------------------------------------------------
# Japanese words

_CJK = "\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_JA_RUN = re.compile(f"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff][{_CJK}]*")
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")


def mark_japanese(html: str) -> str:
    """Wrap each run of Japanese text (outside tags and scripts) in `<span lang="ja">`."""
    if not _JA_RUN.search(html):
        return html
    out, skip = [], 0
    for part in _TAG_OR_TEXT.split(html):
        if part.startswith("<"):
            m = re.match(r"<(/?)([a-zA-Z0-9]+)", part)
            if m and m.group(2).lower() in ("script", "style", "title", "textarea"):
                skip = max(0, skip - 1) if m.group(1) else skip + 1
            out.append(part)
        elif skip:
            out.append(part)
        else:
            out.append(_JA_RUN.sub(lambda m: f'<span lang="ja">{m.group(0)}</span>', part))
    return "".join(out)


def _paired_markdown(app, pagename: str) -> Path | None:
    """The jupytext MyST pair of a page built from an `.ipynb`, if there is one."""
    source = Path(app.srcdir) / (pagename + ".ipynb")
    md = source.with_suffix(".md")
    if (
        source.exists()
        and md.exists()
        and "format_name: myst" in md.read_text(encoding="utf-8")[:600]
    ):
        return md
    return None


_SPHINX_DESIGN_CLASS = re.compile(r'class="(?:[^"]*\s)?sd-')


def _page_context(app, pagename, templatename, context, doctree):
    # The same file or inline script added twice (with different priorities) is
    # kept once, at its first (lowest-priority) place.
    for key in ("script_files", "css_files"):
        files = context.get(key)
        if files:
            seen, unique = set(), []
            for f in sorted(files, key=lambda f: getattr(f, "priority", 500)):
                attributes = getattr(f, "attributes", {})
                # an inline script is registered with filename None or ""
                ident = (getattr(f, "filename", f) or "", tuple(sorted(attributes.items())))
                if ident not in seen:
                    seen.add(ident)
                    unique.append(f)
            context[key] = unique

    # MathJax only where there is math. Sphinx counts the equations of every page a page's
    # toctree includes, so the front page (whose toctree is the book) loaded all of MathJax.
    mathjax = app.config.mathjax_path
    math = app.env.get_domain("math")
    if mathjax and not math.data.get("has_equations", {}).get(pagename):

        def is_mathjax(f) -> bool:
            name = str(getattr(f, "filename", f) or "")
            body = str(getattr(f, "attributes", {}).get("body", ""))
            return name.endswith(Path(mathjax).name) or body.startswith("window.MathJax")

        context["script_files"] = [f for f in context.get("script_files", []) if not is_mathjax(f)]

    # sphinx-design's stylesheet and tab script (62 kB) only on a page that uses its
    # components (no page of the book does today).
    if not _SPHINX_DESIGN_CLASS.search(context.get("body", "")):
        for key, name in (("css_files", "sphinx-design"), ("script_files", "design-tabs.js")):
            context[key] = [
                f for f in context.get(key, []) if name not in str(getattr(f, "filename", f) or "")
            ]

    if "body" in context:
        context["body"] = mark_japanese(context["body"])

    md = _paired_markdown(app, pagename)
    if md is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            pathto = context["pathto"]
            group["buttons"].insert(
                1,
                {
                    "type": "link",
                    "url": f"{pathto('_sources', 1)}/{pagename}.md",
                    "text": ".md",
                    "tooltip": "Download the MyST markdown source (jupytext pair of the notebook)",
                    "icon": "fas fa-file-lines",
                    "label": "download-myst-button",
                },
            )


def _copy_markdown_sources(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        md = _paired_markdown(app, docname)
        if md is not None:
            target = Path(app.outdir) / "_sources" / (docname + ".md")
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".md.tmp")
            shutil.copyfile(md, tmp)
            tmp.replace(target)


# --------------------------------------------------------------------------------------
# A lighter site

# Font Awesome's glyph for each icon class, in the theme's stylesheet: unused, since
# rbm-icons.css draws the icons the pages use (about 86 kB of the stylesheet's 397 kB).
_ICON_GLYPH_RULES = re.compile(r'(?:\.fa-[a-z0-9-]+:(?:before|after),?)+\{content:"[^"]*"\}')
_SOURCE_MAP_COMMENT = re.compile(rb"\n?/[/*]# sourceMappingURL=[^\n]*?(?:\*/)?(?=\n|$)")
_ICON_CLASS = re.compile(r'class="([^"]*\bfa-[^"]*)"')
_ICON_PACKS = {"fab": "brands", "fa-brands": "brands", "far": "regular", "fa-regular": "regular"}
_ICON_ENTRY = re.compile(
    r'(?:"([a-z0-9-]+)"|([a-z0-9]+)):\[(\d+),(\d+),\[([^\]]*)\],"[0-9a-f]+","([^"]+)"\]'
)
# Not icon names: Font Awesome's size and style modifiers.
_ICON_MODIFIERS = {"fa-lg", "fa-sm", "fa-xs", "fa-2x", "fa-fw", "fa-solid", "fa-regular"}
_ICON_MODIFIERS |= {"fa-brands"}


def _icon_packs(fontawesome_js: str) -> dict[str, dict[str, tuple[int, int, str]]]:
    """Font Awesome's icon packs (brands, regular, solid) from its bundle: name -> (w, h, path)."""
    starts = [m.start() for m in re.finditer(r'var p=\{"?[a-z0-9-]+"?:\[\d', fontawesome_js)]
    if len(starts) != 3:
        raise RuntimeError(f"expected 3 icon packs in Font Awesome's script, found {len(starts)}")
    packs: dict[str, dict] = {}
    ends = [*starts[1:], len(fontawesome_js)]
    for name, start, end in zip(("brands", "regular", "solid"), starts, ends, strict=True):
        icons = {}
        for m in _ICON_ENTRY.finditer(fontawesome_js, start, end):
            key = m.group(1) or m.group(2)
            icon = (int(m.group(3)), int(m.group(4)), m.group(6))
            icons[key] = icon
            for alias in re.findall(r'"([a-z0-9-]+)"', m.group(5)):
                icons.setdefault(alias, icon)
        packs[name] = icons
    return packs


def icon_css(used: set[tuple[str, str]], packs) -> str:
    """CSS that draws each (pack, icon) in `used` as a mask of its SVG path."""
    from urllib.parse import quote

    rules = [
        "/* The theme's icons, drawn from Font Awesome Free's SVG paths (CC BY 4.0), so that",
        "   pages need not load its 1.5 MB script. Written by tools/rbm_book_site.py. */",
        ":where(.fa-solid, .fas, .fa-brands, .fab, .fa-regular, .far) {",
        "  display: inline-block; width: 1.25em; height: 1em; vertical-align: -0.125em;",
        "  background-color: currentColor;",
        "  -webkit-mask: var(--rbm-icon) center / contain no-repeat;",
        "  mask: var(--rbm-icon) center / contain no-repeat;",
        "}",
        "/* no glyph from the icon font (so the browser does not fetch it) */",
        ":is(.fa-solid, .fas, .fa-brands, .fab, .fa-regular, .far)::before {",
        "  content: none !important;",
        "}",
        ".fa-lg { font-size: 1.25em; line-height: 0.05em; vertical-align: -0.075em; }",
    ]
    for pack, name in sorted(used):
        icon = packs.get(pack, {}).get(name) or packs.get("solid", {}).get(name)
        if icon is None:
            continue
        w, h, path = icon
        svg = (
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}'>"
            f"<path d='{path}'/></svg>"
        )
        prefixes = {"brands": (".fab", ".fa-brands"), "regular": (".far", ".fa-regular")}
        selectors = ", ".join(f"{p}.fa-{name}" for p in prefixes.get(pack, (".fas", ".fa-solid")))
        rules.append(f'{selectors} {{ --rbm-icon: url("data:image/svg+xml,{quote(svg)}"); }}')
    return "\n".join(rules) + "\n"


def _used_icons(outdir: Path) -> set[tuple[str, str]]:
    used = set()
    for page in outdir.rglob("*.html"):
        for classes in _ICON_CLASS.findall(page.read_text(encoding="utf-8", errors="replace")):
            names = classes.split()
            pack = next((_ICON_PACKS[n] for n in names if n in _ICON_PACKS), "solid")
            for n in names:
                if n.startswith("fa-") and n not in _ICON_MODIFIERS:
                    used.add((pack, n.removeprefix("fa-")))
    return used


def shrink_png(path: Path) -> bool:
    """Rewrite a figure as a 256-colour PNG when that is much smaller; True if rewritten.

    Matplotlib's figures have few colours (lines, fills, text edges, grey-level digits), so a
    palette without dithering looks the same and weighs a third as much: with the figures
    drawn at twice their resolution, this keeps a chapter's first visit light.
    """
    import io

    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("RGB", "RGBA"):
            return False
        if image.mode == "RGBA" and image.getextrema()[3][0] < 255:
            return False  # keep transparency as it is
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    if len(data) > 0.8 * path.stat().st_size:
        return False
    tmp = path.with_suffix(".png.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]|\\(f[0-9a-fA-F]{3})\b")
_SOLID_FONT_FACE = re.compile(
    r"src:url\(\.\./vendor/fontawesome/webfonts/fa-solid-900\.woff2\) format\(\"woff2\"\)"
    r",url\(\.\./vendor/fontawesome/webfonts/fa-solid-900\.ttf\) format\(\"truetype\"\)"
)
ICON_FONT = "fa-solid-900-icons.woff"


def icon_codepoints(css: str) -> set[int]:
    """The Font Awesome glyphs a stylesheet still draws as text: the theme's admonition and
    contents-box icons (`content: var(--pst-icon-...)`), written as private-use characters or
    as `\\fxxx` escapes."""
    return {
        int(m.group(1), 16) if m.group(1) else ord(m.group(0)) for m in _PRIVATE_USE.finditer(css)
    }


def subset_icon_font(static: Path) -> bool:
    """Font Awesome's solid font (156 kB) with only the glyphs the stylesheets draw, as a
    WOFF file of a few kB; the theme's stylesheet then points to it. True if written."""
    webfonts = static / "vendor" / "fontawesome" / "webfonts"
    theme_css = static / "styles" / "pydata-sphinx-theme.css"
    ttf = webfonts / "fa-solid-900.ttf"
    if not (ttf.exists() and theme_css.exists()):
        return False
    text = theme_css.read_text(encoding="utf-8")
    if not _SOLID_FONT_FACE.search(text):
        return False
    codepoints: set[int] = set()
    for css in static.rglob("*.css"):
        codepoints |= icon_codepoints(css.read_text(encoding="utf-8", errors="replace"))
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"  # woff2 would need brotli
    options.layout_features = []
    options.name_IDs = ["*"]
    font = subset.load_font(str(ttf), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    tmp = webfonts / (ICON_FONT + ".tmp")
    subset.save_font(font, str(tmp), options)
    tmp.replace(webfonts / ICON_FONT)
    src = f'src:url(../vendor/fontawesome/webfonts/{ICON_FONT}) format("woff")'
    theme_css.write_text(_SOLID_FONT_FACE.sub(src, text), encoding="utf-8")
    return True


_CLASS_IN_SELECTOR = re.compile(r"\.(-?[A-Za-z_][A-Za-z0-9_-]*)")
# attribute selectors, and the arguments of :not(), :is(), :where(), :has() (a class named
# there need not be on the page for the rule to match), left out before reading the classes
_NOT_REQUIRED = re.compile(r"\[[^\]]*\]|:(?:not|is|where|has)\((?:[^()]|\([^()]*\))*\)")
_WORD = re.compile(r"[A-Za-z0-9_-]+")
# a class name built in a script: the literal before the variable part ("bs-tooltip-" + x)
_CLASS_PREFIX = re.compile(r"""["'`]([A-Za-z][A-Za-z0-9_]*-[A-Za-z0-9_-]*-?)(?:["'`]\s*\+|\$\{)""")


def _css_blocks(css: str, start: int = 0) -> tuple[list, int]:
    """The stylesheet as a list of (prelude, body) rules; the body of an @media, @supports or
    @layer block is itself such a list. Returns the list and where parsing stopped."""
    out, i = [], start
    while i < len(css):
        brace, close = css.find("{", i), css.find("}", i)
        if close != -1 and (brace == -1 or close < brace):
            return out, close + 1
        if brace == -1:
            break
        prelude = css[i:brace]
        if prelude.strip().startswith(("@media", "@supports", "@layer", "@container")):
            inner, i = _css_blocks(css, brace + 1)
            out.append((prelude, inner))
            continue
        depth, j = 0, brace
        while True:
            if css[j] == "{":
                depth += 1
            elif css[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out.append((prelude, css[brace : j + 1]))
        i = j + 1
    return out, i


def _selectors(prelude: str) -> list[str]:
    """A selector list split at its commas, except those inside parentheses or brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(prelude):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
    parts.append(prelude[start:])
    return parts


def purge_unused_css(css: str, used: set[str], prefixes: set[str]) -> str:
    """Leave out the rules none of whose selectors can match: each names a class that appears
    in no page and no script (`used`) and starts with no class-name prefix a script builds
    names from (`prefixes`). At-rules other than @media/@supports/@layer stay as they are."""

    def alive(selector: str) -> bool:
        classes = _CLASS_IN_SELECTOR.findall(_NOT_REQUIRED.sub("", selector))
        return all(c in used or any(c.startswith(p) for p in prefixes) for c in classes)

    def keep(blocks) -> str:
        out = []
        for prelude, body in blocks:
            if isinstance(body, list):
                inner = keep(body)
                if inner:
                    out.append(prelude + "{" + inner + "}")
            elif prelude.lstrip().startswith("@") or any(alive(s) for s in _selectors(prelude)):
                out.append(prelude + body)
        return "".join(out)

    blocks, _ = _css_blocks(css)
    return keep(blocks)


def purge_theme_css(outdir: Path) -> None:
    """pydata-sphinx-theme's stylesheet (Bootstrap and the theme, 310 kB) without the rules
    for classes that no page and no script of the site uses (two thirds of it)."""
    theme_css = outdir / "_static" / "styles" / "pydata-sphinx-theme.css"
    if not theme_css.exists():
        return
    used: set[str] = set()
    prefixes: set[str] = set()
    for page in outdir.rglob("*.html"):
        used |= set(_WORD.findall(page.read_text(encoding="utf-8", errors="replace")))
    for script in (outdir / "_static").rglob("*.js"):
        text = script.read_text(encoding="utf-8", errors="replace")
        used |= set(_WORD.findall(text))
        prefixes |= {p for p in _CLASS_PREFIX.findall(text) if len(p) >= 3}
    text = theme_css.read_text(encoding="utf-8")
    theme_css.write_text(purge_unused_css(text, used, prefixes), encoding="utf-8")


def _lighten(app, exception):
    """No source maps; the icons as a small stylesheet instead of Font Awesome's script, and
    the few glyphs the theme still draws with its icon font in a font of their own; the
    theme's stylesheet without its unused rules; figures as palette PNGs."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for png in (outdir / "_images").glob("*.png"):
        shrink_png(png)
    static = outdir / "_static"
    for mapfile in static.rglob("*.map"):
        mapfile.unlink()
    for asset in [*static.rglob("*.js"), *static.rglob("*.css")]:
        data = asset.read_bytes()
        if b"sourceMappingURL" in data:
            asset.write_bytes(_SOURCE_MAP_COMMENT.sub(b"", data))
    theme_css = static / "styles" / "pydata-sphinx-theme.css"
    if theme_css.exists():
        text = theme_css.read_text(encoding="utf-8")
        slim = _ICON_GLYPH_RULES.sub("", text)
        if slim != text:
            theme_css.write_text(slim, encoding="utf-8")
    subset_icon_font(static)
    purge_theme_css(outdir)
    fontawesome = static / "scripts" / "fontawesome.js"
    if fontawesome.exists():
        packs = _icon_packs(fontawesome.read_text(encoding="utf-8"))
        (static / "rbm-icons.css").write_text(icon_css(_used_icons(outdir), packs))
        # nothing loads it any more (see tools/templates/layout.html)
        fontawesome.unlink()
        for extra in static.glob("scripts/fontawesome.js.*"):
            extra.unlink()


def setup(app):
    app.add_directive("package-versions", PackageVersions)
    app.add_config_value("rbm_book_repository_live", False, "env", [bool])
    app.connect("config-inited", _repository_switch, priority=900)
    app.add_post_transform(ReaderCode)
    app.add_css_file("rbm-icons.css")
    app.connect("build-finished", _lighten, priority=900)
    # after sphinx-book-theme's header buttons (priority 501)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_markdown_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
