"""The passage: the docs' own words that best answer a question, quoted verbatim with a link
to their section, shown before (and without) any model. runtime/passage.js chooses the same
units (parity-tested).

From the best section of the evidence (pagemind.assistant.evidence), units in reading order,
taken best first until the passage holds PASSAGE_CHARS characters:
- a unit scores as the evidence scored it plus CODE_PRIOR when it holds code (docs answer
  "how" with a command, a key or a value: measured on bench/eval_answers.py's sites);
- each comes with what reading it needs: the block a sentence ending in ":" introduces, and
  the sentence that introduces a code block;
- the best unit is always taken whole; a later one that would take the passage past twice
  PASSAGE_CHARS is passed over, so a long code block never turns the quote into a page.

A budget of characters rather than a count of units: key facts are often spread over a few
short sentences or list items, which a count of three cut off while one long unit filled the
quote. On bench/eval_answers.py's three sites (MkDocs, HTTPX, pagemind), passages holding
their key facts rose from 0.71/0.62/0.50 (three units) to 0.83/0.67/0.58, about 400 to 500
characters long.
"""

from __future__ import annotations

from dataclasses import dataclass

from pagemind.assistant.evidence import Evidence, ScoredUnit
from pagemind.assistant.sentences import join_units

PASSAGE_CHARS = 400
CODE_PRIOR = 0.1


@dataclass(frozen=True)
class Passage:
    text: str
    url: str  # the section's, site-relative
    heading: str
    breadcrumb: str

    def to_json(self) -> dict:
        return {"text": self.text, "url": self.url, "heading": self.heading}


def best_passage(evidence: Evidence) -> Passage | None:
    """None when the evidence holds no section with text."""
    if not evidence.sections:
        return None
    units = evidence.units_of(0)
    if not units:
        return None
    chosen = _choose(units)
    section = evidence.sections[0]
    text = join_units([units[i].unit for i in sorted(chosen)])
    return Passage(text, section.url, section.heading, section.breadcrumb)


def _choose(units: list[ScoredUnit]) -> set[int]:
    scores = [unit.score + CODE_PRIOR * ("`" in unit.unit.text) for unit in units]
    chosen: set[int] = set()
    length = 0
    for i in sorted(range(len(units)), key=lambda i: (-scores[i], i)):
        if chosen and length >= PASSAGE_CHARS:
            break
        added = {i, *_needed_by(units, i)} - chosen
        cost = sum(len(units[j].unit.text) for j in added)
        if chosen and length + cost > 2 * PASSAGE_CHARS:
            continue
        chosen |= added
        length += cost
    return chosen


def _needed_by(units: list[ScoredUnit], i: int) -> list[int]:
    """The neighbour unit `i` cannot be read without."""
    unit = units[i].unit
    if unit.text.endswith(":") and i + 1 < len(units):
        return [i + 1]
    if unit.kind == "code" and i > 0:
        return [i - 1]
    return []
