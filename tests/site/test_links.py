"""Every internal link and cross-reference of the built site resolves.

A crawl over all pages of `_build/html`: each `href`/`src` to a local file must
point to an existing file, and each `#fragment` must be an `id` (or `name`) in
the target page. External links are collected and checked for form only (they
are never fetched: tests need no network); the list is written to
`test-artifacts/external-links.txt`.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from conftest import site_pages

# A host name: labels of letters, digits and hyphens, with a dot-separated TLD.
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)
LINK_ATTRS = {"href", "src"}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and tag != "meta":
                self.ids.add(value)
            elif name in LINK_ATTRS and tag not in ("base",):
                self.links.append((tag, value))
            elif name == "content" and tag == "meta" and "url=" in value.lower():
                # <meta http-equiv="Refresh" content="0; url=book/intro.html">
                self.links.append((tag, value.split("=", 1)[1].strip()))


@cache
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _is_external(url: str) -> bool:
    scheme = urlsplit(url).scheme
    return (bool(scheme) and scheme not in ("data", "mailto", "javascript")) or url.startswith(
        "//"
    )


def test_internal_links_and_fragments_resolve(site):
    pages = site_pages(site)
    assert pages, "no pages in the built site"
    broken, n_links, n_fragments = [], 0, 0
    for rel in pages:
        page = site / rel
        for tag, url in _parse(page).links:
            if _is_external(url) or urlsplit(url).scheme:
                continue
            parts = urlsplit(url)
            n_links += 1
            if parts.path:
                target = (page.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = page
            if not target.is_relative_to(site.resolve()):
                broken.append(f"{rel}: <{tag}> {url} points outside the site")
                continue
            if not target.exists():
                broken.append(f"{rel}: <{tag}> {url} -> missing file")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                n_fragments += 1
                if fragment not in _parse(target).ids:
                    broken.append(f"{rel}: {url} -> no id '{fragment}' in {target.name}")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:50])
    assert n_links > 10 * len(pages) and n_fragments > 0, (n_links, n_fragments)


def test_cross_references_were_resolved(site):
    """Sphinx renders a cross-reference it could not resolve as plain text, not a link."""
    unresolved = []
    for rel in site_pages(site):
        html = (site / rel).read_text(encoding="utf-8")
        # {eq}, {numref}, {ref}, {doc} that failed show up as an "xref" span outside any <a>
        for m in re.finditer(r'(<a\b[^>]*>\s*)?<span class="xref\b[^"]*">([^<]*)</span>', html):
            if m.group(1) is None:
                unresolved.append(f"{rel}: {m.group(2)}")
        unresolved += [f"{rel}: ??" for _ in re.finditer(r">\?\?<", html)]
    assert not unresolved, "unresolved cross-references:\n" + "\n".join(unresolved[:30])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def test_external_links_are_well_formed(site, artifacts):
    external: dict[str, set[str]] = {}
    for rel in site_pages(site):
        for _, url in _parse(site / rel).links:
            if _is_external(url):
                external.setdefault(url, set()).add(rel)
    bad = []
    for url in external:
        parts = urlsplit(url)
        ok = (
            parts.scheme in ("http", "https")
            and parts.hostname is not None
            and (
                HOST.match(parts.hostname)
                or _is_ip(parts.hostname)
                or parts.hostname == "localhost"
            )
            and not re.search(r"\s", url)
        )
        if not ok:
            bad.append(f"{url} (on {sorted(external[url])[0]})")
    lines = [f"{url}\t{' '.join(sorted(pages))}" for url, pages in sorted(external.items())]
    (artifacts / "external-links.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not bad, "malformed external links:\n" + "\n".join(bad)
