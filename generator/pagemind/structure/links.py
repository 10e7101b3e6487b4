"""Rewrite links between docs files to built URLs and check that every target exists."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pagemind.structure.files import INDEX_NAMES, relative_url, url_path


@dataclass(frozen=True)
class Link:
    """A link from one page to a page of the site (itself for "#anchor"), for anchor checks."""

    href: str  # as the author wrote it
    target: str  # docs-relative source path of the page it points at
    anchor: str  # "" when it names no anchor
    line: int | None


@dataclass(frozen=True)
class Rewritten:
    href: str
    link: Link | None  # None unless it points at a page of the site
    problem: str | None = None


class LinkResolver:
    """Knows every page URL and asset path, so each page can rewrite its links alone."""

    def __init__(self, page_urls: dict[str, str], assets: set[str]) -> None:
        self.page_urls = page_urls
        self.assets = assets

    def rewrite(self, href: str, source: str, line: int | None) -> Rewritten:
        if runs_script(href):
            return Rewritten("", None, f"link to a script URL '{href}' (removed)")
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith("/") or not href:
            return Rewritten(href, None)  # external, root-absolute or empty: left as written
        anchor = unquote(parts.fragment)
        if not parts.path:
            return Rewritten(href, Link(href, source, anchor, line))
        target = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(parts.path)))
        page = self._page_for(target, parts.path.endswith("/"))
        here = self.page_urls[source]
        if page is not None:
            url = relative_url(self.page_urls[page], here)
            return Rewritten(
                url + (f"#{parts.fragment}" if parts.fragment else ""),
                Link(href, page, anchor, line),
            )
        if target in self.assets:
            return Rewritten(relative_url(url_path(target), here), None)
        kind = "page" if target.endswith(".md") else "file"
        return Rewritten(href, None, f"link to a missing {kind} '{parts.path}'")

    def _page_for(self, target: str, is_folder: bool) -> str | None:
        if target in self.page_urls:
            return target
        if is_folder or "." not in posixpath.basename(target):
            for name in INDEX_NAMES:
                candidate = posixpath.join(target, name) if target != "." else name
                if candidate in self.page_urls:
                    return candidate
        return None


# Schemes a browser runs as script when a link is followed; it ignores ASCII whitespace and
# control characters inside the scheme, so "java\tscript:" is one too.
_SCRIPT_SCHEMES = ("javascript", "vbscript")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20]")


def runs_script(href: str) -> bool:
    """Whether following `href` would run script ("javascript:", " JavaScript:", ...)."""
    scheme = _IGNORED_IN_SCHEME.sub("", href).partition(":")[0].lower()
    return ":" in href and scheme in _SCRIPT_SCHEMES


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# Link targets as written: [text](target "title"), [label]: target, and raw href/src attributes.
_TARGETS = re.compile(
    r"""\]\(\s*<?([^\s)>]+)|^\s*\[[^\]]+\]:\s*<?([^\s>]+)|(?:href|src)=["']([^"']+)"""
)


class LinkLines:
    """Finds the source line of each link, in document order, skipping fenced code blocks."""

    def __init__(self, text: str, first_line: int = 1) -> None:
        self._lines: dict[str, list[int]] = {}
        self._used: dict[str, int] = {}
        for number, line in _prose_lines(text):
            for match in _TARGETS.finditer(line):
                target = next(group for group in match.groups() if group)
                self._lines.setdefault(target, []).append(number + first_line - 1)

    def line(self, href: str) -> int | None:
        """The line of the next link to `href`; reference links used twice share their line."""
        lines = self._lines.get(href)
        if not lines:
            return None
        index = self._used.get(href, 0)
        self._used[href] = index + 1
        return lines[min(index, len(lines) - 1)]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match[1][0] * len(match[1])
        elif fence is not None and match and match[1].startswith(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def missing_anchors(
    page_file: str, links: tuple[Link, ...], anchors: dict[str, frozenset[str]]
) -> list[str]:
    """Warnings for links whose #anchor is not an id on the target page."""
    return [
        f"{page_file}:{link.line or '?'}: link '{link.href}' points to a missing anchor "
        f"'#{link.anchor}'"
        for link in links
        if link.anchor and link.target in anchors and link.anchor not in anchors[link.target]
    ]
