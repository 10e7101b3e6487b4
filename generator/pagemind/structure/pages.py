"""One Markdown file as a page: front matter, HTML body, table of contents, anchors, links."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pagemind.config import read_utf8
from pagemind.errors import PagemindError
from pagemind.structure.files import INDEX_NAMES, page_url
from pagemind.structure.links import Link, LinkLines, LinkResolver
from pagemind.structure.markdown import MarkdownRenderer, TocItem

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(\r?\n|\Z)", re.DOTALL)
_ID = re.compile(r"""\bid=["']([^"']+)["']""")
_FRONT_MATTER_TYPES = {"title": str, "description": str, "assistant": bool, "hide": list}


@dataclass(frozen=True)
class Page:
    source: str  # docs-relative POSIX path
    url: str  # site-relative directory URL, "" for the home page
    title: str
    description: str
    meta: dict[str, Any]
    html: str
    toc: tuple[TocItem, ...]
    anchors: frozenset[str]
    links: tuple[Link, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def assistant_enabled(self) -> bool:
        return self.meta.get("assistant", True) is not False

    def hides(self, part: str) -> bool:
        return part in self.meta.get("hide", [])


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int]:
    """Front matter, the Markdown after it, and how many lines the front matter took."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text, 0
    try:
        meta = yaml.safe_load(match[1] or "") or {}
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise PagemindError(
            f"invalid front matter: {error.problem}",
            file=path,
            line=mark.line + 2 if mark else 1,
            fix="correct the YAML between the --- lines",
        ) from None
    if not isinstance(meta, dict):
        raise PagemindError(
            "front matter must be key: value lines", file=path, line=2, fix="e.g. title: Install"
        )
    for key, kind in _FRONT_MATTER_TYPES.items():
        if key in meta and not isinstance(meta[key], kind):
            raise PagemindError(
                f"front matter '{key}' must be a {kind.__name__}, got {meta[key]!r}",
                file=path,
                line=_line_in(match[1] or "", key) + 1,
                key=key,
            )
    return meta, text[match.end() :], match[0].count("\n")


def _line_in(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return 1


def parse_page(
    source: str, docs_dir: Path, renderer: MarkdownRenderer, resolver: LinkResolver
) -> Page:
    path = docs_dir / source
    text = read_utf8(path)
    meta, body, offset = split_front_matter(text, path)
    link_lines = LinkLines(body, first_line=offset + 1)
    links: list[Link] = []
    warnings: list[str] = []

    def rewrite(href: str) -> str:
        line = link_lines.line(href)
        result = resolver.rewrite(href, source, line)
        if result.link:
            links.append(result.link)
        if result.problem:
            warnings.append(f"{path}:{line or '?'}: {result.problem}")
        return result.href

    rendered = renderer.render(body, rewrite)
    return Page(
        source=source,
        url=page_url(source),
        title=str(meta.get("title") or rendered.first_heading or title_from_name(source)),
        description=str(meta.get("description", "")),
        meta=meta,
        html=rendered.html,
        toc=rendered.toc,
        anchors=frozenset(_ID.findall(rendered.html)),
        links=tuple(links),
        warnings=tuple(warnings),
    )


def title_from_name(source: str) -> str:
    """ "guides/01-getting_started.md" -> "Getting started"; an index takes its folder's name."""
    folder, name = posixpath.split(source)
    if name in INDEX_NAMES:
        name = posixpath.basename(folder) or "Home"
    stem = re.sub(r"^\d+[-_. ]+", "", name.removesuffix(".md"))
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:]
