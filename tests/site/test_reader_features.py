"""What a reader can do from a chapter page: launch it (Colab, Binder), download it
(.ipynb, .md), reach the repository; and what the front and status pages show.

The repository URL is read from `_config.yml`, the single place that sets it. Until it names a
real repository (`rbm_book_repository_live: false`), the site must not link to it at all: no
launch, repository or issue buttons, no Colab install cell. The tests check the mode the site
was built in; `test_repository_switch.py` checks the other mode without a second build.
"""

from __future__ import annotations

import html as htmllib
import re
from importlib import metadata
from pathlib import Path

import pytest
from conftest import ROOT, chapter_pages, reader_pages

CHAPTERS = chapter_pages()


def _repo(config) -> tuple[str, str, str, str]:
    repo = config["repository"]
    url = repo["url"].rstrip("/")
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", url)
    assert m, f"repository.url in _config.yml is not a GitHub repository URL: {url}"
    owner, name = m.groups()
    prefix = repo.get("path_to_book", "") or ""
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    return url, f"{owner}/{name}", repo.get("branch", "main"), prefix


def _hrefs(html: str) -> set[str]:
    return {htmllib.unescape(h) for h in re.findall(r'href="([^"]+)"', html)}


def _article(html: str) -> str:
    start = html.index('<article class="bd-article">')
    return html[start : html.index("</article>", start)]


@pytest.fixture(params=CHAPTERS or ["<no chapters>"], ids=lambda p: Path(p).stem)
def chapter(request, site):
    if not CHAPTERS:
        pytest.fail("no chapter pages (book/NN_*.html) in the built site")
    return request.param, (site / request.param).read_text(encoding="utf-8")


def _live(config) -> bool:
    return bool(config["sphinx"]["config"].get("rbm_book_repository_live", False))


def test_chapter_has_launch_download_and_repository_buttons(chapter, config, site):
    path, html = chapter
    url, slug, branch, prefix = _repo(config)
    docname = path.removesuffix(".html")
    launch = config["launch_buttons"]
    hrefs = _hrefs(html)

    if not _live(config):
        # a placeholder repository: nothing on the page may point to it
        assert not [h for h in hrefs if h.startswith(url) or slug in h], (
            f"{path} links to the placeholder repository {url}"
        )
        for host in (launch["colab_url"], launch["binderhub_url"]):
            assert not [h for h in hrefs if h.startswith(host.rstrip("/"))], (
                f"{path} has a launch button to {host}, for a repository that does not exist"
            )
        assert "source-issues-button" not in html and "launch-buttons" not in html
    else:
        _check_launch_buttons(path, hrefs, url, slug, branch, prefix, docname, launch)

    depth = "../" * path.count("/")
    for suffix in (".ipynb", ".md"):
        link = f"{depth}_sources/{docname}{suffix}"
        assert link in hrefs, f"{path} has no download link for its {suffix}"
        assert (site / "_sources" / f"{docname}{suffix}").is_file(), f"{link} is missing"
    # the .md offered for download is the chapter's MyST source, as in the repository
    md = ROOT / f"{docname}.md"
    assert (site / "_sources" / f"{docname}.md").read_text(encoding="utf-8") == md.read_text(
        encoding="utf-8"
    )


def _check_launch_buttons(path, hrefs, url, slug, branch, prefix, docname, launch):
    colab = (
        f"{launch['colab_url'].rstrip('/')}/github/{slug}/blob/{branch}/{prefix}{docname}.ipynb"
    )
    binder = (
        f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{slug}/{branch}"
        f"?urlpath=tree/{prefix}{docname}.ipynb"
    )
    assert colab in hrefs, f"{path} has no Colab launch link {colab}"
    assert binder in hrefs, f"{path} has no Binder launch link {binder}"
    assert url in hrefs, f"{path} has no repository button to {url}"


def test_chapter_opens_with_folded_setup_cells(chapter, config):
    """The Colab cell (only with a real repository) and the imports cell are folded away:
    the chapter opens with its title, then prose."""
    path, html = chapter
    url, *_ = _repo(config)
    article = _article(html)
    cells = article.split('<div class="cell ')
    assert len(cells) > 1, f"{path} has no code cells"
    first_paragraph = article.index("<p>", article.index("</h1>"))
    setup = [c for c in cells[1:] if article.index(c) < first_paragraph]
    assert setup, f"{path}: no setup cell before the first paragraph"
    for cell in setup:
        assert '<details class="admonition hide above-input">' in cell.split("cell_input")[0], (
            f"{path}: a setup cell is shown, not folded: {cell[:200]}"
        )
    colab = [c for c in cells[1:] if "google.colab" in c]
    if not _live(config):
        assert not colab, f"{path} shows the Colab install cell of a placeholder repository"
        return
    first = colab[0]
    assert cells.index(first) == 1, f"{path}: the Colab cell is not the first code cell"
    classes = first[: first.index('"')].split()
    assert {"tag_remove-output", "tag_nbval-skip"} <= set(classes), (
        f"{path}: the first code cell is not tagged remove-output and nbval-skip: {classes}"
    )
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", first))
    assert "google.colab" in text, f"{path}: the first code cell is not the Colab install cell"
    assert re.search(r"pip install .*git\+" + re.escape(url), text), (
        f"{path}: the Colab cell does not install from the repository of _config.yml ({url})"
    )
    assert "cell_output" not in first, f"{path}: the Colab cell's output is shown"


def test_front_page_explains_the_book_and_maps_the_chapters(site):
    html = (site / "book" / "intro.html").read_text(encoding="utf-8")
    article = _article(html)
    text = re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", article)))
    assert "Placeholder" not in text
    for command in ("make book", "make test"):
        assert command in text, f"the front page does not say how to {command!r}"
    assert "toctree-wrapper" in article, "the front page has no chapter map"
    for chapter in chapter_pages(site):
        assert f'href="{Path(chapter).name}"' in article, f"the chapter map misses {chapter}"
    # the picture of an RBM, and one line per chapter on what it shows
    assert re.search(r"<img[^>]+rbm-diagram\.svg", article), "the front page has no RBM diagram"
    table = re.search(r"<table.*?</table>", article, re.S)
    assert table, "the front page has no table of chapter summaries"
    for chapter in chapter_pages(site):
        row = re.search(
            rf'<tr[^>]*>\s*<td[^>]*><p><a[^>]+href="{re.escape(Path(chapter).name)}[^"]*"'
            rf".*?</td>\s*<td[^>]*><p>(.*?)</p>",
            table.group(0),
            re.S,
        )
        assert row and len(re.sub(r"<[^>]+>", "", row.group(1)).split()) >= 6, (
            f"the front page has no one-line summary of {chapter}"
        )
    # no equation on the front page, so no MathJax (1.3 MB)
    assert "tex-chtml" not in html, "the front page loads MathJax"


def test_status_page_lists_execution_times_and_versions(site):
    html = (site / "book" / "status.html").read_text(encoding="utf-8")
    tables = re.findall(r"<table.*?</table>", html, re.S)
    assert len(tables) >= 2, "the status page should have an execution table and a versions table"
    execution = next((t for t in tables if "Run Time" in t or "Exec Time" in t), None)
    assert execution is not None, "no execution-time table on the status page"
    for chapter in chapter_pages(site):
        assert f"{Path(chapter).stem}" in execution, f"{chapter} missing from the execution table"
    versions = next(t for t in tables if "package-versions" in t)
    rows = dict(
        re.findall(r"<tr[^>]*>\s*<td[^>]*><p>([^<]+)</p></td>\s*<td[^>]*><p>([^<]+)</p>", versions)
    )
    for package in ("numpy", "jupyter-book", "sphinx"):
        assert rows.get(package) == metadata.version(package), (
            f"the status page says {package} {rows.get(package)}; this environment has "
            f"{metadata.version(package)} (rebuild the book)"
        )


# ------------------------------------------------------------------------- code on the page


def _cell_inputs(html: str) -> list[str]:
    blocks = re.findall(
        r'<div class="cell_input docutils container">(.*?)</div>\s*</div>', html, re.S
    )
    return [htmllib.unescape(re.sub(r"<[^>]+>", "", b)) for b in blocks]


def test_chapters_show_no_glue_bookkeeping(chapter):
    path, html = chapter
    shown = [c for c in _cell_inputs(_article(html)) if re.search(r"^\s*glue\(", c, re.M)]
    assert not shown, f"{path} shows glue calls: {shown[0][:200]}"
    assert "from myst_nb import glue" not in htmllib.unescape(re.sub(r"<[^>]+>", "", html))


def test_included_source_has_no_numpydoc_body(chapter):
    path, html = chapter
    text = htmllib.unescape(re.sub(r"<[^>]+>", "", _article(html)))
    for marker in ("Parameters\n    ----------", "Returns\n    -------", ":math:`", ".. math::"):
        assert marker not in text, f"{path} shows a docstring's reST: {marker!r}"


# ------------------------------------------------------------------------- lighter pages


def test_no_source_maps_and_no_font_awesome_script(site):
    maps = [p.name for p in (site / "_static").rglob("*.map")]
    assert not maps, f"source maps in the site: {maps}"
    for asset in [*(site / "_static").rglob("*.js"), *(site / "_static").rglob("*.css")]:
        assert b"sourceMappingURL" not in asset.read_bytes(), f"{asset} names a source map"
    assert not (site / "_static" / "scripts" / "fontawesome.js").exists()
    for path in reader_pages(site):
        html = (site / path).read_text(encoding="utf-8")
        assert "fontawesome.js" not in html, f"{path} loads Font Awesome's script"
        if path != "search.html":
            assert "searchindex.js" not in html, f"{path} loads the search index"


def test_favicon_citations_and_no_empty_index(site):
    for path in reader_pages(site):
        html = (site / path).read_text(encoding="utf-8")
        assert re.search(r'<link rel="icon" href="[^"]*favicon\.svg"', html), f"{path}: no favicon"
        assert "genindex.html" not in html, f"{path} links to the empty general index"
    assert (site / "_static" / "favicon.svg").is_file()
    assert not (site / "genindex.html").exists(), "genindex.html is built, and empty"
    # author-year in the text and in the list (tools/rbm_book_bib.py); the list's labels,
    # author-year too, are hidden (rbm-book.css): each entry opens with its authors and year
    css = (ROOT / "_static" / "rbm-book.css").read_text(encoding="utf-8")
    assert re.search(r"div\.citation > \.label \{\s*display: none;", css)
    refs = (site / "book" / "references.html").read_text(encoding="utf-8")
    assert 'class="citation"' in refs


def test_japanese_terms_are_marked(site):
    html = (site / "book" / "notation.html").read_text(encoding="utf-8")
    article = _article(html)
    marked = re.findall(r'<span lang="ja">([^<]+)</span>', article)
    assert marked, "no Japanese term marked lang=ja on the notation page"
    bare = re.sub(r'<span lang="ja">[^<]+</span>', "", article)
    bare = re.sub(r"<[^>]+>", "", bare)
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", bare), "unmarked Japanese text"
