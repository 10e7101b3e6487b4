"""The site navigation: from the config's nav, or derived from the folder tree."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pagemind.config import NavEntry
from pagemind.errors import PagemindError
from pagemind.structure.files import INDEX_NAMES
from pagemind.structure.links import runs_script
from pagemind.structure.pages import Page, title_from_name


@dataclass(frozen=True)
class NavNode:
    title: str
    url: str | None  # site-relative page URL, an external URL, or None for a section
    children: tuple[NavNode, ...] = ()
    external: bool = False

    def contains(self, url: str) -> bool:
        return self.url == url or any(child.contains(url) for child in self.children)


def build_nav(
    pages: Mapping[str, Page], entries: tuple[NavEntry, ...] | None, config_file: Path | None
) -> tuple[NavNode, ...]:
    if entries is None:
        return tuple(derive_nav(pages, ""))
    return tuple(_from_entry(entry, pages, config_file) for entry in entries)


def page_order(nav: tuple[NavNode, ...]) -> list[str]:
    """Page URLs in reading order, for previous/next links."""
    seen: dict[str, None] = {}
    for node in _walk(nav):
        if node.url is not None and not node.external:
            seen.setdefault(node.url)
    return list(seen)


def _walk(nodes: tuple[NavNode, ...]) -> Iterator[NavNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def _from_entry(entry: NavEntry, pages: Mapping[str, Page], config_file: Path | None) -> NavNode:
    target = entry.target
    if target is None:
        children = tuple(_from_entry(child, pages, config_file) for child in entry.children)
        return NavNode(entry.title or "", None, children)
    if runs_script(target):
        raise PagemindError(
            f"nav links to a script URL '{target}', which would run when followed",
            file=config_file,
            line=entry.line,
            key=entry.key,
            fix="link to a page under docs_dir or an https:// address",
        )
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return NavNode(entry.title or target, target, external=True)
    if target.endswith("/"):
        folder = target.strip("/")
        return NavNode(entry.title or _folder_title(pages, folder), None, derive_nav(pages, folder))
    page = pages.get(posixpath.normpath(target))
    if page is None:
        raise PagemindError(
            f"nav points to '{target}', which is not a page under docs_dir",
            file=config_file,
            line=entry.line,
            key=entry.key,
            fix="correct the path (relative to docs_dir) or create the file",
        )
    return NavNode(entry.title or page.title, page.url)


def derive_nav(pages: Mapping[str, Page], folder: str) -> tuple[NavNode, ...]:
    """index.md first, then pages and folders by name, numeric prefixes in numeric order."""
    prefix = folder + "/" if folder else ""
    direct, subfolders = [], set()
    for source in pages:
        if not source.startswith(prefix):
            continue
        rest = source[len(prefix) :]
        if "/" in rest:
            subfolders.add(rest.split("/", 1)[0])
        else:
            direct.append(rest)
    items = [(name, False) for name in direct] + [(name, True) for name in subfolders]
    nodes = []
    for name, is_folder in sorted(items, key=lambda item: _sort_key(item[0])):
        path = prefix + name
        if is_folder:
            nodes.append(NavNode(_folder_title(pages, path), None, derive_nav(pages, path)))
        else:
            nodes.append(NavNode(pages[path].title, pages[path].url))
    return tuple(nodes)


def _sort_key(name: str) -> tuple:
    if name in INDEX_NAMES:
        return (0, 0, "")
    number = re.match(r"^(\d+)", name)
    return (1, int(number[1]) if number else float("inf"), name.lower())


def _folder_title(pages: Mapping[str, Page], folder: str) -> str:
    for name in INDEX_NAMES:
        page = pages.get(f"{folder}/{name}")
        if page is not None:
            return page.title
    return title_from_name(folder + "/index.md")
