"""What a reader can do from a chapter page: launch it (Colab, Binder), download it
(.ipynb, .md), reach the repository; and what the front and status pages show.

The repository URL is read from `_config.yml`, the single place that sets it.
"""

from __future__ import annotations

import html as htmllib
import re
from importlib import metadata
from pathlib import Path

import pytest
from conftest import ROOT, chapter_pages

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


def test_chapter_has_launch_download_and_repository_buttons(chapter, config, site):
    path, html = chapter
    url, slug, branch, prefix = _repo(config)
    docname = path.removesuffix(".html")
    launch = config["launch_buttons"]
    hrefs = _hrefs(html)

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


def test_chapter_opens_with_hidden_colab_install_cell(chapter, config):
    path, html = chapter
    url, *_ = _repo(config)
    article = _article(html)
    cells = article.split('<div class="cell ')
    assert len(cells) > 1, f"{path} has no code cells"
    first = cells[1]
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
