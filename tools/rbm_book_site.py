"""A small Sphinx extension for the book's website (loaded from `_config.yml`).

- ``{package-versions}``: a table of the versions of the packages the book was
  built with, read from the build's own environment at build time (so the
  status page needs no notebook, and no stored output goes stale).
- A ``.md`` entry in each chapter's download menu: the chapter's MyST source
  (the jupytext pair of the ``.ipynb``), copied into ``_sources/``.
- Each page's script list without duplicates (sphinx-thebe registers its
  configuration script twice, which throws "THEBE_JS_URL has already been
  declared" in the browser console).
"""

from __future__ import annotations

import platform
import shutil
from importlib import metadata
from pathlib import Path

from docutils import nodes
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


def setup(app):
    app.add_directive("package-versions", PackageVersions)
    # after sphinx-book-theme's header buttons (priority 501)
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _copy_markdown_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
