"""One Markdown file as a page: front matter, HTML body, table of contents, anchors, links."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymdownx.snippets import SnippetMissingError

from pagemind.config import read_utf8
from pagemind.config.yaml_text import load_yaml
from pagemind.errors import PagemindError
from pagemind.structure.files import INDEX_NAMES, page_url
from pagemind.structure.links import Link, LinkLines, LinkResolver
from pagemind.structure.markdown import MarkdownRenderer, TocItem

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(\r?\n|\Z)", re.DOTALL)
# What a line may start with before its text: indentation, quote and list markers.
_NESTING_PREFIX = re.compile(r"(?:\s|>|[-*+]\s|\d{1,9}[.)]\s)*")
# Python-Markdown's time grows with the cube of the nesting depth (a thousand levels take
# minutes) and it overflows the stack a few hundred levels down: deeper is refused first.
MAX_NESTING_PREFIX = 400
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
    meta = load_yaml(
        match[1] or "",
        path,
        first_line=2,
        what="front matter",
        fix="correct the YAML between the --- lines",
    )
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(key, str) for key in meta):
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

    depths = [len(_NESTING_PREFIX.match(line)[0]) for line in body.splitlines() or [""]]
    if max(depths) > MAX_NESTING_PREFIX:
        raise _too_deep(path, offset + _first_line_deeper_than(depths, MAX_NESTING_PREFIX))
    try:
        rendered = renderer.render(body, rewrite)
    except RecursionError:  # nesting of another kind: emphasis, HTML blocks, admonitions
        raise _too_deep(path, offset + _first_line_deeper_than(depths, 100)) from None
    except SnippetMissingError as error:  # pymdownx.snippets with check_paths on
        raise PagemindError(
            str(error),
            file=path,
            fix="correct the --8<-- path: it is relative to pymdownx.snippets' base_path, "
            "which is relative to the config file's folder",
        ) from None
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


def _first_line_deeper_than(depths: list[int], limit: int) -> int:
    """The first line whose nesting prefix is longer than `limit` characters, or else the
    one with the longest: where runaway nesting usually begins."""
    deep = min(max(depths), limit + 1)
    return next(number for number, depth in enumerate(depths, 1) if depth >= deep)


def _too_deep(path: Path, line: int) -> PagemindError:
    return PagemindError(
        "the Markdown is nested too deeply to render (lists, quotes, blocks or emphasis "
        "inside one another)",
        file=path,
        line=line,
        fix="flatten the nesting around that line",
    )


def title_from_name(source: str) -> str:
    """ "guides/01-getting_started.md" -> "Getting started"; an index takes its folder's name."""
    folder, name = posixpath.split(source)
    if name in INDEX_NAMES:
        name = posixpath.basename(folder) or "Home"
    stem = re.sub(r"^\d+[-_. ]+", "", name.removesuffix(".md"))
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:]
