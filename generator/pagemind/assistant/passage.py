"""The passage: the docs' own words that best answer a question, quoted verbatim with a link
to their section, shown before (and without) any model. runtime/passage.js chooses the same
units (parity-tested).

From the best section of the evidence (pagemind.assistant.evidence), at most PASSAGE_UNITS
units, in reading order:
- the best unit, scored as the evidence scored it plus CODE_PRIOR when it holds code (docs
  answer "how" with a command, a key or a value: measured on bench/eval_answers.py's sites);
- what reading it needs: the block a sentence ending in ":" introduces, and the sentence
  that introduces a code block;
- then the next best units of that section.
"""

from __future__ import annotations

from dataclasses import dataclass

from pagemind.assistant.evidence import Evidence, ScoredUnit
from pagemind.assistant.sentences import join_units

PASSAGE_UNITS = 3
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
    order = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    best = order[0]
    chosen = {best, *_needed_by(units, best)}
    for i in order:
        if len(chosen) >= PASSAGE_UNITS:
            break
        chosen.add(i)
    return chosen


def _needed_by(units: list[ScoredUnit], i: int) -> list[int]:
    """The neighbour unit `i` cannot be read without."""
    unit = units[i].unit
    if unit.text.endswith(":") and i + 1 < len(units):
        return [i + 1]
    if unit.kind == "code" and i > 0:
        return [i - 1]
    return []
