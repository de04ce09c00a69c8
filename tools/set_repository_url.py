"""Change the book's repository URL everywhere it is used.

`_config.yml` (`repository.url`) is the one place the URL is set: the launch
buttons (Colab, Binder) and the repository and issue buttons are built from it.
The chapters' Colab cells must install `rbm` from the same repository, so this
script rewrites the old URL in them too (both halves of each jupytext pair, so
the pair stays in sync). `tests/site/test_reader_features.py` fails if the two
disagree.

Until a real URL is set, `_config.yml` has `rbm_book_repository_live: false` and
the build leaves out the launch, repository and issue buttons and the Colab
install cells (tools/rbm_book_site.py), so that the site has no link to a
repository that does not exist. Setting a URL turns that switch on;
`--off` turns it off again (and keeps the URL).

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


_LIVE = re.compile(r"^(\s*rbm_book_repository_live:\s*)(true|false)\b", re.M)


def is_live(root: Path = ROOT) -> bool:
    m = _LIVE.search((root / "_config.yml").read_text(encoding="utf-8"))
    return bool(m) and m.group(2) == "true"


def set_live(live: bool, root: Path = ROOT) -> bool:
    """Turn the repository's buttons and Colab cells on or off; True if the file changed."""
    path = root / "_config.yml"
    text = path.read_text(encoding="utf-8")
    if _LIVE.search(text) is None:
        raise SystemExit("no rbm_book_repository_live in _config.yml")
    updated = _LIVE.sub(lambda m: m.group(1) + ("true" if live else "false"), text)
    if updated != text:
        _write_atomic(path, updated)
    return updated != text


def set_url(new: str, root: Path = ROOT) -> list[Path]:
    """Replace the current repository URL by `new`; returns the files changed."""
    new = new.rstrip("/")
    if not URL.fullmatch(new):
        raise SystemExit(f"not a GitHub repository URL: {new!r}")
    old = current_url(root)
    changed = []
    files = [root / "_config.yml", *sorted((root / "book").glob("[0-9][0-9]*_*.md"))]
    files += sorted((root / "book").glob("[0-9][0-9]*_*.ipynb"))
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
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/NAME")
    parser.add_argument(
        "--off",
        action="store_true",
        help="leave the buttons and Colab cells out again (the URL is a placeholder)",
    )
    args = parser.parse_args(argv)
    if args.off:
        set_live(False)
        print("rbm_book_repository_live: false (no launch, repository or issue buttons)")
        return 0
    if not args.url:
        parser.error("give a repository URL, or --off")
    changed = set_url(args.url)
    if set_live(True) and ROOT / "_config.yml" not in changed:
        changed.insert(0, ROOT / "_config.yml")
    for path in changed:
        print(f"updated {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
