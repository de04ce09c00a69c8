"""Private names stay inside their module, with two exceptions.

A ``_name`` may be imported from another module only when it is the unchecked
twin of a public function of that module (``_free_energy`` beside
``free_energy``), or when it comes from a package-private module
(``rbm._random``, ``rbm._validation``, ``rbm._fast``, ``rbm._sparse``). The test reads the
imports (and ``module._name`` attribute reads) of the package, the scripts and
the benchmarks with :mod:`ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_PRIVATE = {"rbm._random", "rbm._validation", "rbm._fast", "rbm._sparse"}
SOURCES = sorted(
    p for folder in ("rbm", "scripts", "benchmarks") for p in (ROOT / folder).glob("*.py")
)


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _public_functions(module):
    """Names of the top-level functions and classes of ``rbm.<module>``."""
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not _is_private(node.name)
    }


def _absolute(node, path):
    """The imported module's dotted name, for ``from X import ...`` in ``path``."""
    if node.level == 0:
        return node.module or ""
    package = "rbm"  # relative imports only occur inside the package
    return package + ("." + node.module if node.module else "")


def _crossings(path):
    """(line, module, name) of every private name that ``path`` takes from an rbm module."""
    tree = ast.parse(path.read_text())
    own = "rbm." + path.stem if path.parent.name == "rbm" else None
    modules = {}  # local name -> rbm module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(node, path)
            if not module.startswith("rbm") or module == own:
                continue
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if (ROOT / (full.replace(".", "/") + ".py")).exists():
                    modules[alias.asname or alias.name] = full
                    if _is_private(alias.name):
                        found.append((node.lineno, module, alias.name))
                elif _is_private(alias.name):
                    found.append((node.lineno, module, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rbm"):
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            target = ast.unparse(node.value)
            module = modules.get(target)
            if module is None and target.startswith("rbm."):
                module = target
            if module is not None and module != own:
                found.append((node.lineno, module, node.attr))
    return found


def _allowed(module, name):
    if f"{module}.{name}" in PACKAGE_PRIVATE or module in PACKAGE_PRIVATE:
        return True
    path = ROOT / (module.replace(".", "/") + ".py")
    return path.exists() and name[1:] in _public_functions(module)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_private_names_cross_modules_only_as_twins_or_from_private_modules(path):
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {module}.{name}"
        for line, module, name in _crossings(path)
        if not _allowed(module, name)
    ]
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_the_checker_sees_a_crossing(tmp_path):
    """A private import that is neither a twin nor package-private is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from rbm.sampling import _gibbs_chain\n"
        "import rbm\n"
        "rbm.evaluation._flip_delta_free_energy\n"
    )
    found = {(m, n) for _, m, n in _crossings(bad)}
    assert found == {
        ("rbm.sampling", "_gibbs_chain"),
        ("rbm.evaluation", "_flip_delta_free_energy"),
    }
    assert not any(_allowed(m, n) for m, n in found)
    assert _allowed("rbm.core", "_free_energy")
    assert _allowed("rbm._random", "_draw_key")
