"""The helper that changes the repository URL keeps the config and the Colab cells in step."""

from __future__ import annotations

import importlib.util
import shutil

from conftest import ROOT

spec = importlib.util.spec_from_file_location(
    "set_repository_url", ROOT / "tools" / "set_repository_url.py"
)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_set_repository_url_rewrites_config_and_colab_cells(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    old = tool.current_url(tmp_path)
    (tmp_path / "book").mkdir()
    cell = f'    %pip install --quiet "rbm @ git+{old}"\n'
    (tmp_path / "book" / "01_x.md").write_text("# X\n\n" + cell + f"See {old}/issues.\n")
    (tmp_path / "book" / "01_x.ipynb").write_text('{"source": ["' + cell.strip() + '"]}')
    (tmp_path / "book" / "notes.md").write_text(cell)

    changed = tool.set_url("https://github.com/someone/elsewhere/", root=tmp_path)

    new = "https://github.com/someone/elsewhere"
    assert tool.current_url(tmp_path) == new
    md = (tmp_path / "book" / "01_x.md").read_text()
    assert f"git+{new}" in md and f"git+{old}" not in md
    assert f"See {old}/issues." in md  # only the install line changes
    assert f"git+{new}" in (tmp_path / "book" / "01_x.ipynb").read_text()
    assert (tmp_path / "book" / "notes.md").read_text() == cell  # not a chapter
    assert len(changed) == 3
    assert not list(tmp_path.rglob("*.tmp"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_author_year_labels_and_order():
    from pybtex.database import parse_string
    from pybtex.plugin import find_plugin

    bib = _load("rbm_book_bib")
    data = parse_string(
        """
        @article{b, author = {Hinton, G.}, title = {B}, journal = {J}, year = {2002}}
        @article{a, author = {Hinton, G.}, title = {A}, journal = {J}, year = {2002}}
        @article{c, author = {Ackley, D. and Hinton, G. and Sejnowski, T.}, title = {C},
                    journal = {J}, year = {1985}}
        @article{d, author = {Hinton, G. and Salakhutdinov, R.}, title = {D}, journal = {J},
                    year = {2006}}
        """,
        "bibtex",
    )
    style = find_plugin("pybtex.style.formatting", bib.STYLE)()
    entries = list(style.format_entries(data.entries.values()))
    assert [e.key for e in entries] == ["c", "a", "b", "d"]
    assert [e.label for e in entries] == [
        "Ackley et al. 1985",
        "Hinton 2002a",
        "Hinton 2002b",
        "Hinton and Salakhutdinov 2006",
    ]
    assert entries[1].text.render_as("text").startswith("Hinton, G. (2002). A. ")


def test_icon_codepoints_reads_glyphs_and_escapes():
    site = _load("rbm_book_site")
    css = '.x:after{content:"\\f107"} :root{--pst-icon-info-circle:"\uf05a";} .y{content:"a"}'
    assert site.icon_codepoints(css) == {0xF107, 0xF05A}


def test_mathjax_bundle_holds_the_listed_components():
    tool = _load("build_mathjax")
    head = tool.TARGET.read_text(encoding="utf-8")[:600]
    assert f"MathJax {tool.VERSION}" in head
    for name, _ in tool.COMPONENTS:
        assert name in head, name
    assert tool.TARGET.read_text(encoding="utf-8").rstrip().endswith(");")


def test_purge_keeps_rules_a_page_or_script_can_match():
    site = _load("rbm_book_site")
    css = (
        ".used{a:1}.gone{b:2}.used,.gone{c:3}"
        "img:not(.gone,.also-gone){d:4}"
        "@media (min-width:1px){.gone{e:5}.used .gone{f:6}.tip-top{g:7}}"
        "@font-face{font-family:X}"
        "a[href$='.gone']{h:8}"
    )
    out = site.purge_unused_css(css, used={"used"}, prefixes={"tip-"})
    assert out == (
        ".used{a:1}.used,.gone{c:3}img:not(.gone,.also-gone){d:4}"
        "@media (min-width:1px){.tip-top{g:7}}@font-face{font-family:X}a[href$='.gone']{h:8}"
    )
