"""Text cut into the units the assistant quotes, scores and checks: sentences, list items and
code blocks. Sections come in the Markdown subset of the index's chunk text
(pagemind.search_index.chunks), answers in the one the model writes; runtime/sentences.js
cuts both the same way (parity-tested).

- A fenced code block (``` or ~~~) is one unit, fences included, blank lines and all.
- A list item ("- ", "* ", "+ ", "1. ", "1) ") is one unit, with its wrapped lines.
- A paragraph is cut into sentences after ".", "!" or "?" (closing quotes and brackets
  kept with it) and white space, when the next sentence starts with a capital, a digit, a
  backtick, a quote or a bracket, and the word ending there is no abbreviation ("e.g.").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
# The end of a sentence: its punctuation, closing quotes or brackets, then white space.
_END = re.compile(r"[.!?]+[\"')\]]*\s+")
_NEXT_STARTS = re.compile(r"[A-Z0-9`\"'(\[]")
_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:e\.g|i\.e|etc|vs|cf|approx|incl|[A-Za-z])\.$", re.I)


@dataclass(frozen=True)
class Unit:
    text: str
    kind: str  # "sentence", "item" or "code"
    block: int  # the paragraph, item or code block it comes from, counted from 0


def cut_units(text: str) -> list[Unit]:
    """The units of `text`, in order."""
    units: list[Unit] = []
    for block, (kind, lines) in enumerate(_blocks(text)):
        if kind == "paragraph":
            units += [Unit(s, "sentence", block) for s in split_sentences(" ".join(lines))]
        else:
            units.append(Unit(("\n" if kind == "code" else " ").join(lines), kind, block))
    return units


def join_units(units: list[Unit]) -> str:
    """Units as text again: sentences of one paragraph side by side, blocks apart."""
    text = ""
    for before, unit in zip([None, *units], units, strict=False):
        if before is not None:
            text += " " if before.block == unit.block else "\n\n"
        text += unit.text
    return text


def split_sentences(paragraph: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for end in _END.finditer(paragraph):
        following = paragraph[end.end() : end.end() + 1]
        before = paragraph[start : end.start() + 1]
        if _NEXT_STARTS.match(following) and not _ABBREVIATION.search(before):
            sentences.append(paragraph[start : end.end()].strip())
            start = end.end()
    rest = paragraph[start:].strip()
    return [*sentences, rest] if rest else sentences


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """("code" | "item" | "paragraph", lines) in order; code keeps its fences."""
    blocks: list[tuple[str, list[str]]] = []
    current: tuple[str, list[str]] | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if current and current[0] == "code":
            current[1].append(line)
            if FENCE.match(line):
                current = None
        elif FENCE.match(line):
            current = ("code", [line])
            blocks.append(current)
        elif not line.strip():
            current = None
        elif LIST_ITEM.match(line):
            current = ("item", [line.strip()])
            blocks.append(current)
        elif current:  # a wrapped line of a paragraph or a list item
            current[1].append(line.strip())
        else:
            current = ("paragraph", [line.strip()])
            blocks.append(current)
    return blocks
