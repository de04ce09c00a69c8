"""Change the book's repository URL everywhere it is used.

`_config.yml` (`repository.url`) is the one place the URL is set: the launch
buttons (Colab, Binder), the repository button and the download links are built
from it. The chapters' Colab cells must install `rbm` from the same repository,
so this script rewrites the old URL in them too (both halves of each jupytext
pair, so the pair stays in sync). `tests/site/test_reader_features.py` fails if
the two disagree.

    .venv/bin/python tools/set_repository_url.py https://github.com/OWNER/NAME
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def current_url(root: Path = ROOT) -> str:
    m = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (root / "_config.yml").read_text(), re.M)
    if m is None:
        raise SystemExit("no repository.url in _config.yml")
    return m.group(1).rstrip("/")


def set_url(new: str, root: Path = ROOT) -> list[Path]:
    """Replace the current repository URL by `new`; returns the files changed."""
    new = new.rstrip("/")
    if not URL.fullmatch(new):
        raise SystemExit(f"not a GitHub repository URL: {new!r}")
    old = current_url(root)
    changed = []
    files = [root / "_config.yml", *sorted((root / "book").glob("[0-9][0-9]_*.md"))]
    files += sorted((root / "book").glob("[0-9][0-9]_*.ipynb"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.name == "_config.yml":
            updated = re.sub(
                r"^(repository:\s*\n\s+url:\s*)" + re.escape(old),
                lambda m: m.group(1) + new,
                text,
                flags=re.M,
            )
        else:
            # only the Colab cell's `pip install "rbm @ git+<url>"`
            updated = text.replace(f"git+{old}", f"git+{new}")
        if updated != text:
            _write_atomic(path, updated)
            changed.append(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="https://github.com/OWNER/NAME")
    args = parser.parse_args(argv)
    for path in set_url(args.url):
        print(f"updated {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
