"""The extension's page transforms on small pages: the repository switch in both positions
(without building the site twice), setup cells, glue lines, docstrings, wide figures.

The built site is checked in the position `_config.yml` has (test_reader_features.py); here
the extension's own functions run on a small page in both positions, and the helper script
turns the switch on and off.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from types import SimpleNamespace

from conftest import ROOT
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

sys.path.insert(0, str(ROOT / "tools"))
import rbm_book_site as site_ext

spec = importlib.util.spec_from_file_location(
    "set_repository_url", ROOT / "tools" / "set_repository_url.py"
)
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

COLAB = 'import sys\nif "google.colab" in sys.modules:\n    %pip install "rbm @ git+URL"\n'
IMPORTS = "import numpy as np\nfrom myst_nb import glue\n\nimport rbm\n"
WORK = (
    "x = np.ones(3)\n"
    'glue("n", 3, display=False)\n'
    "for k in range(2):\n"
    '    glue(f"k{k}", k)\n'
    "print(x)\n"
)


def _cell(code: str) -> nodes.container:
    cell = nodes.container(nb_element="cell_code", classes=["cell"])
    source = nodes.container(nb_element="cell_code_source", classes=["cell_input"])
    source += nodes.literal_block(code, code)
    cell += source
    return cell


def _page() -> nodes.document:
    document = new_document("<page>", get_default_settings(Parser))
    section = nodes.section()
    section += nodes.title(text="A chapter")
    section += _cell(COLAB)
    section += _cell(IMPORTS)
    section += nodes.paragraph(text="Prose starts here.")
    section += _cell(WORK)
    section += _cell('glue("only", 1, display=False)\n')
    document += section
    return document


def _cells(document):
    return [n for n in document.findall(nodes.container) if n.get("nb_element") == "cell_code"]


def test_placeholder_repository_leaves_out_the_colab_cell():
    document = _page()
    site_ext.reader_code(document, live=False)
    cells = _cells(document)
    assert not any("google.colab" in c.astext() for c in cells)
    imports, work = cells  # the glue-only cell is gone too
    assert imports["hide_mode"] == "input" and "setup" in imports["prompt_show"]
    assert "glue" not in imports.astext() and "import rbm" in imports.astext()
    assert work.get("hide_mode") is None
    assert work.astext() == "x = np.ones(3)\nprint(x)"


def test_real_repository_keeps_the_colab_cell_folded():
    document = _page()
    site_ext.reader_code(document, live=True)
    colab, imports, _ = _cells(document)
    assert "google.colab" in colab.astext()
    assert colab["hide_mode"] == "input" and "Colab" in colab["prompt_show"]
    assert imports["hide_mode"] == "input"


def test_switch_off_removes_the_buttons_and_on_keeps_them():
    options = {
        "use_repository_button": True,
        "use_issues_button": True,
        "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    }
    off = SimpleNamespace(rbm_book_repository_live=False, html_theme_options=dict(options))
    site_ext._repository_switch(None, off)
    assert not off.html_theme_options["use_repository_button"]
    assert not off.html_theme_options["use_issues_button"]
    assert off.html_theme_options["launch_buttons"] == {}
    on = SimpleNamespace(rbm_book_repository_live=True, html_theme_options=dict(options))
    site_ext._repository_switch(None, on)
    assert on.html_theme_options == options


def test_set_repository_url_turns_the_switch_on_and_off(tmp_path):
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "book").mkdir()
    assert not tool.is_live(tmp_path)
    tool.set_url("https://github.com/someone/rbm-book", root=tmp_path)
    assert tool.set_live(True, root=tmp_path)
    assert tool.is_live(tmp_path)
    assert tool.set_live(False, root=tmp_path)
    assert not tool.is_live(tmp_path)
    assert tool.current_url(tmp_path) == "https://github.com/someone/rbm-book"


def test_docstring_bodies_and_math_roles_are_left_out():
    code = (
        "def f(v, W):\n"
        '    r"""Free energy :math:`F(\\mathbf v)` of each row.\n\n'
        '    Parameters\n    ----------\n    v : array\n    """\n'
        "    return v @ W\n"
    )
    assert site_ext.summarise_docstrings(code) == (
        'def f(v, W):\n    r"""Free energy of each row."""\n    return v @ W'
    )


def test_japanese_runs_are_marked_outside_tags():
    html = '<p title="可視層">可視層 (Visible Units)</p><script>var s = "隠れ層";</script>'
    assert site_ext.mark_japanese(html) == (
        '<p title="可視層"><span lang="ja">可視層</span> (Visible Units)</p>'
        '<script>var s = "隠れ層";</script>'
    )


def test_no_cell_is_widened_past_the_column():
    """A wide figure or long code stays in the text column (beside the page's contents box);
    the stylesheet shrinks the figure and scrolls the code."""
    document = _page()
    wide = _cell("x = " + "1 + " * 40 + "1\nplt.show()\n")
    output = nodes.container(nb_element="cell_code_output", classes=["cell_output"])
    output += nodes.image(uri="figure.png", width="989px")
    wide += output
    document[0] += wide
    site_ext.reader_code(document, live=False)
    assert "tag_full-width" not in wide["classes"]
