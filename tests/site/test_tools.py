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
