"""The passage: the docs' own words that best answer a question, quoted verbatim with a link
to their section, shown before (and without) any model. runtime/passage.js chooses the same
units (parity-tested).

From the best section of the evidence (pagemind.assistant.evidence), units in reading order,
taken best first until the quote holds PASSAGE_CHARS characters:
- a unit scores as the evidence scored it plus CODE_PRIOR when it holds code (docs answer
  "how" with a command, a key or a value: measured on bench/eval_answers.py's sites);
- each comes with what reading it needs: the block a sentence ending in ":" introduces, the
  sentence that introduces a code block, the label above its paragraph (a definition's
  term, a note's title: see _is_label) and the unit a label heads;
- the best unit is always taken whole; a later one that would take the passage past twice
  PASSAGE_CHARS is passed over, so a long code block never turns the quote into a page.

When the runner-up section also covers the question on its own (Evidence.section_covers:
it scores MIN_SCORE or more in the evidence's second ranking), the passage quotes it too,
`also`, in RUNNER_UP_CHARS chosen the same way: usually its best unit alone. The two best
sections are often close (a parent and its subsection, a guide and its reference), and the
first ranking's best is then the wrong one as often as not. Keyword-only evidence has no
per-section judgment, so it quotes one section.

A budget of characters rather than a count of units: key facts are often spread over a few
short sentences or list items, which a count of three cut off while one long unit filled the
quote. On bench/eval_answers.py's three sites (MkDocs, HTTPX, pagemind), passages holding
their key facts rose from 0.71/0.62/0.50 (three units) to 0.83/0.67/0.58, about 400 to 500
characters long. Quoting the runner-up too took them to 0.92/0.71/0.79 (about 600 to 770
characters: `.venv/bin/python bench/eval_answers.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pagemind.assistant.evidence import Evidence, ScoredUnit
from pagemind.assistant.sentences import join_units

PASSAGE_CHARS = 400
RUNNER_UP_CHARS = 200
CODE_PRIOR = 0.1
LABEL_CHARS = 40


@dataclass(frozen=True)
class Quote:
    text: str
    url: str  # the section's, site-relative
    heading: str
    breadcrumb: str

    def to_json(self) -> dict:
        return {"text": self.text, "url": self.url, "heading": self.heading}


@dataclass(frozen=True)
class Passage(Quote):
    also: Quote | None = None  # the runner-up section's quote

    @property
    def quotes(self) -> list[Quote]:
        """What the reader is shown, best first."""
        return [self, *([self.also] if self.also else [])]

    def to_json(self) -> dict:
        return {**super().to_json(), "also": self.also and self.also.to_json()}


def best_passage(evidence: Evidence) -> Passage | None:
    """None when the evidence holds no section with text."""
    best = _quote(evidence, 0, PASSAGE_CHARS)
    if best is None:
        return None
    also = _quote(evidence, 1, RUNNER_UP_CHARS) if evidence.section_covers(1) else None
    return Passage(**dataclasses.asdict(best), also=also)


def _quote(evidence: Evidence, section: int, chars: int) -> Quote | None:
    units = evidence.units_of(section) if section < len(evidence.sections) else []
    if not units:
        return None
    chosen = _choose(units, chars)
    hit = evidence.sections[section]
    text = join_units([units[i].unit for i in sorted(chosen)])
    return Quote(text, hit.url, hit.heading, hit.breadcrumb)


def quote_order(units: list[ScoredUnit]) -> list[list[int]]:
    """The places of a section's units in the order they are quoted, best first: each unit
    with the neighbour it cannot be read without. The passage takes them in this order, and
    so does the prompt when a section must be condensed (pagemind.assistant.prompt)."""
    scores = [unit.score + CODE_PRIOR * ("`" in unit.unit.text) for unit in units]
    order = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    return [[i, *_needed_by(units, i)] for i in order]


def _choose(units: list[ScoredUnit], chars: int) -> set[int]:
    chosen: set[int] = set()
    length = 0
    for group in quote_order(units):
        if chosen and length >= chars:
            break
        added = set(group) - chosen
        cost = sum(len(units[j].unit.text) for j in added)
        if chosen and length + cost > 2 * chars:
            continue
        chosen |= added
        length += cost
    return chosen


def _needed_by(units: list[ScoredUnit], i: int) -> list[int]:
    """The neighbour unit `i` cannot be read without."""
    unit = units[i].unit
    if i + 1 < len(units) and (unit.text.endswith(":") or _is_label(units, i)):
        return [i + 1]
    if i > 0 and unit.kind == "code":
        return [i - 1]
    label = _block_start(units, i) - 1
    return [label] if label >= 0 and _is_label(units, label) else []


def _block_start(units: list[ScoredUnit], i: int) -> int:
    """The place of the first unit of unit `i`'s paragraph or item."""
    while i > 0 and units[i - 1].unit.block == units[i].unit.block:
        i -= 1
    return i


def _is_label(units: list[ScoredUnit], i: int) -> bool:
    """A short paragraph of one unit without a sentence's end, above one that is not: a
    definition's term (a reference's `--no-push` above "Commit to the local branch only."),
    a note's title; not a table's rows, each such a paragraph. On bench/eval_answers.py's
    sites (MkDocs, HTTPX, pagemind) the answers' openings held their key facts for
    17 / 10 / 18 questions with labels, 16 / 10 / 16 without."""
    return _is_bare(units, i) and i + 1 < len(units) and not _is_bare(units, i + 1)


def _is_bare(units: list[ScoredUnit], i: int) -> bool:
    """A short paragraph of one unit without a sentence's end."""
    unit = units[i].unit
    near = [units[j].unit for j in (i - 1, i + 1) if 0 <= j < len(units)]
    return (
        unit.kind == "sentence"
        and all(other.block != unit.block for other in near)
        and len(unit.text) <= LABEL_CHARS
        and unit.text[-1] not in ".!?:;,"
    )
