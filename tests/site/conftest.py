"""Fixtures for tests of the built website (run after `make book`).

The site is `_build/html` (or `$RBM_SITE`). Browser tests serve it on 127.0.0.1 and drive Debian's
Chromium through Playwright (never a browser downloaded by Playwright).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# A private build can be tested with RBM_SITE=/tmp/me/_build/html (default: the shared build).
SITE = Path(os.environ.get("RBM_SITE", ROOT / "_build" / "html")).resolve()
ARTIFACTS = ROOT / "test-artifacts"

# Folders of the built site that hold assets, not pages.
ASSET_DIRS = ("_static", "_sources", "_images", "mathjax", "_downloads")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def site_pages(site: Path = SITE) -> list[str]:
    """Every HTML page of the built site, as a path relative to the site root."""
    if not site.exists():
        return []
    return sorted(
        p.relative_to(site).as_posix()
        for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] not in ASSET_DIRS
    )


def reader_pages(site: Path = SITE) -> list[str]:
    """The pages a reader opens: every page except the root redirect."""
    return [p for p in site_pages(site) if p != "index.html"]


def load_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def toc_files() -> list[str]:
    """The documents of `_toc.yml` in reading order (root first), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    order = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                order.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [
        str(Path(f).with_suffix("")) if Path(f).suffix in (".md", ".ipynb") else f for f in order
    ]


def chapter_pages(site: Path = SITE) -> list[str]:
    """Built pages of the numbered chapters (`book/NN_name.html`)."""
    return [p for p in site_pages(site) if p.startswith("book/") and Path(p).name[:2].isdigit()]


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").exists():
        pytest.fail("the site is not built: run `make book` first")
    return SITE


@pytest.fixture(scope="session")
def config() -> dict:
    return load_config()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def server(site):
    """Serve the built site on 127.0.0.1 on a free port; yields the base URL (ending in /)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is not installed: run `make chromium` (needs root), or set CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
