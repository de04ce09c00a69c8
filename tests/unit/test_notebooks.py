"""Every chapter is a jupytext pair: .md to review, .ipynb with outputs for nbval and the build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest

BOOK = Path(__file__).resolve().parents[2] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))


def _code_sources(nb):
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


def test_there_are_chapters():
    assert CHAPTERS, "no chapters found in book/"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_pair_exists_and_is_in_sync(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{md.name} has no paired {ipynb.name}: run jupytext --sync {md}"
    from_md = jupytext.read(md)
    from_ipynb = jupytext.read(ipynb)
    assert _code_sources(from_md) == _code_sources(from_ipynb), (
        f"{md.name} and {ipynb.name} differ in their code: run jupytext --sync"
    )
    md_text = [c.source.strip() for c in from_md.cells if c.cell_type == "markdown"]
    nb_text = [c.source.strip() for c in from_ipynb.cells if c.cell_type == "markdown"]
    assert md_text == nb_text, (
        f"{md.name} and {ipynb.name} differ in their text: run jupytext --sync"
    )


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_every_code_cell_was_run_and_none_failed(md):
    nb = json.loads(md.with_suffix(".ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    never_run = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not never_run, f"{md.stem}: code cells {never_run} were never run"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{md.stem}: stored outputs contain an error"
    counts = [c["execution_count"] for c in code]
    assert counts == sorted(counts), f"{md.stem}: cells were run out of order {counts}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_summary_exercises_and_figure(md):
    text = md.read_text()
    assert re.search(r"^## Summary", text, re.M), f"{md.name} has no '## Summary'"
    assert re.search(r"^## Exercises", text, re.M), f"{md.name} has no '## Exercises'"
    assert len(re.findall(r"\{exercise", text)) >= 2, f"{md.name} has fewer than 2 exercises"
    assert re.search(r"\{solution", text), f"{md.name} has no solutions"
    assert "name: fig-" in text, f"{md.name} has no numbered figure"
    assert "colab" in text.lower(), f"{md.name} has no Colab install cell"
