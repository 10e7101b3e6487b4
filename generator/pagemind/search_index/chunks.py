"""Heading-aware chunks: a page's rendered HTML cut into sections at its headings.

Chunks come from the HTML, not the Markdown, so each one's anchor is the `id` the page
really carries (explicit `{#id}` anchors, de-duplicated slugs). A section is the text from
a heading to the next heading of any level; a section longer than the target size is cut
between blocks (paragraphs, list items, table rows, code blocks), never inside one, so a
code block always stays whole. Text before the page's first heading gets the page URL
without an anchor. Sections with no text (a heading directly followed by a subheading)
give no chunk.

A chunk's text keeps what the reader sees as code or as a list, in the Markdown subset that
runtime/render_text.js displays: code blocks fenced with ```, inline code in backticks, list
items after "- " (or "1. " in a numbered list). The assistant quotes and checks code by it:
an answer's code must appear verbatim in a source, and a quoted passage shows it as code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from pagemind.structure.files import url_path
from pagemind.structure.pages import Page

BREADCRUMB_SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark
# Texts -> how many tokens each one is, for packing blocks up to the target size.
TokenCounter = Callable[[Sequence[str]], list[int]]

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Elements whose end closes a block of text; everything else is inline.
_BLOCKS = {
    "p", "li", "dt", "dd", "tr", "blockquote", "div", "details", "summary", "table",
    "ul", "ol", "dl", "figure", "figcaption", "section", "hr", "br",
}  # fmt: skip
_SKIPPED = {"script", "style", "template", "svg"}
FENCE = "```"


@dataclass(frozen=True)
class Chunk:
    page: str  # source .md path relative to docs_dir
    url: str  # "<page url>#<anchor>", site-relative, encoded ("<page url>" before any heading)
    anchor: str  # the heading's id, "" for text before the first heading
    heading: str  # the section's own heading text (the page title before any heading)
    breadcrumb: str  # page title, section, subsection, joined by the separator
    text: str  # blocks separated by blank lines; code keeps its line breaks

    @property
    def embedded_text(self) -> str:
        """What the embedder sees: the breadcrumb gives a short section its context."""
        return f"{self.breadcrumb}\n{self.text}"


@dataclass(frozen=True)
class _Block:
    text: str
    code: bool


@dataclass
class _Section:
    level: int  # 0 before the first heading
    anchor: str
    heading: str
    blocks: list[_Block]


def chunk_page(page: Page, count_tokens: TokenCounter, target_tokens: int) -> list[Chunk]:
    """The page's chunks in reading order."""
    chunks: list[Chunk] = []
    sections = _sections(page.html, page.title)
    # A page's opening h1 is its title on screen: the breadcrumb starts with the page title
    # (the nav's name for it) instead, once.
    title_heading = sections[1] if len(sections) > 1 and sections[1].level == 1 else None
    trail: list[_Section] = []  # the enclosing sections
    for section in sections:
        trail = [outer for outer in trail if outer.level < section.level]
        if section.level and section is not title_heading:
            trail.append(section)
        if not section.blocks:
            continue
        names = [page.title] + [outer.heading for outer in trail]
        breadcrumb = BREADCRUMB_SEPARATOR.join(names)
        url = f"{page.url}#{url_path(section.anchor)}" if section.anchor else page.url
        for text in _pack(section.blocks, breadcrumb, count_tokens, target_tokens):
            chunks.append(
                Chunk(page.source, url, section.anchor, section.heading, breadcrumb, text)
            )
    return chunks


def _pack(
    blocks: list[_Block], breadcrumb: str, count_tokens: TokenCounter, target_tokens: int
) -> list[str]:
    """Blocks joined into texts of at most target_tokens (breadcrumb included) each; a
    block larger than that, code or prose, becomes a text of its own, whole."""
    sizes = count_tokens([breadcrumb, *(block.text for block in blocks)])
    budget = max(target_tokens - sizes[0], 1)
    texts: list[str] = []
    current: list[str] = []
    used = 0
    for block, size in zip(blocks, sizes[1:], strict=True):
        if current and used + size > budget:
            texts.append("\n\n".join(current))
            current, used = [], 0
        current.append(block.text)
        used += size
    if current:
        texts.append("\n\n".join(current))
    return texts


def _sections(html: str, title: str) -> list[_Section]:
    parser = _SectionParser(title)
    parser.feed(html)
    parser.close()
    parser.flush()
    return parser.sections


class _SectionParser(HTMLParser):
    """Splits rendered page HTML into sections of text blocks (see the module docstring)."""

    def __init__(self, title: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections = [_Section(0, "", title, [])]
        self.buffer: list[str] = []
        self.heading: tuple[int, str] | None = None  # (level, id) while inside a heading
        self.heading_text: list[str] = []
        self.pre_depth = 0
        self.skip_depth = 0  # inside script/style, or a heading's permalink
        self.lists: list[list] = []  # [tag, next number] of each open <ul>/<ol>
        self.marker = ""  # "- " or "3. " of a list item whose text is still to come

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _SKIPPED or (tag == "a" and "headerlink" in (attributes.get("class") or "")):
            self.skip_depth += 1
        elif tag in _HEADINGS:
            self.flush()
            self.heading = (int(tag[1]), attributes.get("id") or "")
            self.heading_text = []
        elif tag == "pre":
            self.flush()
            self.pre_depth += 1
        elif tag in _BLOCKS and not self.pre_depth:
            self.flush()
            self._open_list_part(tag, attributes)
        elif tag in ("td", "th"):
            self.buffer.append(" ")
        elif tag == "code":
            self._mark_code()

    def _open_list_part(self, tag: str, attributes: dict[str, str | None]) -> None:
        if tag in ("ul", "ol"):
            start = attributes.get("start") or "1"
            self.lists.append([tag, int(start) if start.isdigit() else 1])
        elif tag == "li" and self.lists:
            kind = self.lists[-1]
            self.marker = f"{kind[1]}. " if kind[0] == "ol" else "- "
            kind[1] += 1

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth and (tag in _SKIPPED or tag == "a"):
            self.skip_depth -= 1
        elif tag in _HEADINGS and self.heading:
            level, anchor = self.heading
            text = _collapse("".join(self.heading_text))
            self.sections.append(_Section(level, anchor, text, []))
            self.heading = None
        elif tag == "pre" and self.pre_depth:
            self.pre_depth -= 1
            if not self.pre_depth:
                self.flush(code=True)
        elif tag in _BLOCKS and not self.pre_depth:
            self.flush()
            if tag in ("ul", "ol") and self.lists:
                self.lists.pop()
        elif tag == "code":
            self._mark_code()

    def _mark_code(self) -> None:
        """Inline code in backticks; headings stay plain text (they become breadcrumbs)."""
        if not (self.pre_depth or self.skip_depth or self.heading):
            self.buffer.append("`")

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.heading:
            self.heading_text.append(data)
        else:
            self.buffer.append(data)

    def flush(self, code: bool = False) -> None:
        raw = "".join(self.buffer)
        self.buffer = []
        text = _fenced(raw) if code else _inline(raw)
        if text:
            self.sections[-1].blocks.append(_Block(self.marker + text, code))
            self.marker = ""


def _fenced(code: str) -> str:
    code = code.strip("\n").rstrip()
    return f"{FENCE}\n{code}\n{FENCE}" if code else ""


def _inline(text: str) -> str:
    """Collapsed whitespace; backticks kept only around code that has text."""
    text = re.sub(r"`\s*`", " ", _collapse(text))
    return re.sub(r"`\s*([^`]*?)\s*`", r"`\1`", text).strip()


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
