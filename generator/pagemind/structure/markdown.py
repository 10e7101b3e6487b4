"""Markdown to HTML with the extensions docs authors expect; collects links and headings."""

from __future__ import annotations

import html
import xml.etree.ElementTree as etree
from collections.abc import Callable
from dataclasses import dataclass

import markdown
from markdown.treeprocessors import Treeprocessor

from pagemind.config import MarkdownConfig

PERMALINK = "¶"


def extensions(settings: MarkdownConfig) -> tuple[list[str], dict[str, dict]]:
    """The one list of Markdown extensions every page is rendered with: pagemind's, then the
    author's (MkDocs adds its list after its built-ins the same way); the author's options
    of an extension pagemind loads too are merged over pagemind's."""
    configs = {
        "toc": {
            "permalink": PERMALINK,
            "permalink_title": "Link to this section",
            "toc_depth": settings.toc_depth,
        },
        "pymdownx.highlight": {"use_pygments": True, "css_class": "highlight"},
        "pymdownx.superfences": {},
        "pymdownx.tasklist": {"custom_checkbox": True},
        "pymdownx.tabbed": {"alternate_style": True},
    }
    names = [
        # MkDocs loads it first: an author's fenced_code is then a no-op that superfences,
        # loaded after it, replaces (loaded last, it would replace superfences).
        "fenced_code",
        "tables",
        "admonition",
        "footnotes",
        "attr_list",
        "def_list",
        "md_in_html",
        "pymdownx.details",
        "pymdownx.inlinehilite",
        *configs,
    ]
    for name, options in settings.extensions:
        if name not in names:
            names.append(name)
        configs[name] = {**configs.get(name, {}), **options}
    return names, configs


@dataclass(frozen=True)
class TocItem:
    level: int
    anchor: str
    title: str
    children: tuple[TocItem, ...]


@dataclass(frozen=True)
class RenderedMarkdown:
    html: str
    toc: tuple[TocItem, ...]
    first_heading: str | None


# Called for each href/src with the URL as written; returns the URL to write in its place.
RewriteLink = Callable[[str], str]


class MarkdownRenderer:
    """One configured python-markdown instance, reset between pages (building it is slow)."""

    def __init__(self, settings: MarkdownConfig) -> None:
        names, configs = extensions(settings)
        self._md = markdown.Markdown(extensions=names, extension_configs=configs)
        self._links = _LinkTreeprocessor(self._md)
        self._md.treeprocessors.register(self._links, "pagemind-links", 1)

    def render(self, text: str, rewrite_link: RewriteLink) -> RenderedMarkdown:
        self._md.reset()
        self._links.rewrite_link = rewrite_link
        body = self._md.convert(text)
        tokens = self._md.toc_tokens
        first = next((token["name"] for token in tokens if token["level"] == 1), None)
        return RenderedMarkdown(
            html=body,
            toc=tuple(_toc_items(_below_title(tokens))),
            first_heading=html.unescape(first) if first else None,
        )


def _below_title(tokens: list[dict]) -> list[dict]:
    """The page title (a lone top-level h1) is the page, not an entry of its table of contents."""
    if len(tokens) == 1 and tokens[0]["level"] == 1:
        return tokens[0]["children"]
    return tokens


def _toc_items(tokens: list[dict]) -> list[TocItem]:
    return [
        TocItem(
            token["level"],
            token["id"],
            html.unescape(token["name"]),
            tuple(_toc_items(token["children"])),
        )
        for token in tokens
    ]


class _LinkTreeprocessor(Treeprocessor):
    """Rewrites links and image sources; names each heading's permalink for screen readers."""

    rewrite_link: RewriteLink

    def run(self, root: etree.Element) -> None:
        for parent in root.iter():
            for element in parent:
                self._visit(element, parent)

    def _visit(self, element: etree.Element, parent: etree.Element) -> None:
        if element.tag == "a" and "headerlink" in element.get("class", ""):
            mark = "".join(element.itertext())  # the site's permalink symbol
            heading = "".join(parent.itertext()).replace(mark, "").strip()
            element.set("aria-label", f"Link to section: {heading}")
            return
        for attribute in ("href", "src"):
            value = element.get(attribute)
            if value is not None and element.tag in ("a", "img", "source", "video", "audio"):
                element.set(attribute, self.rewrite_link(value))
