"""Every claim traced: an answer cut into units (pagemind.assistant.sentences), each cited to
the source it overlaps most, and held back when the sources do not support it
(pagemind.assistant.support). runtime/attribution.js decides the same (parity-tested), unit
by unit while the answer streams.

A unit cites the source holding most of its code, then most of its content words the
question does not have, then most of all (the first such source on a tie). It is shown as
an answer, with that citation [n], when
- every piece of its code appears verbatim in some source,
- at least SUPPORT_SHARE of its content words are in the cited source or the question,
- the cited source adds something: a content word or code the question does not have
  (a unit that only restates the question says nothing),
- it is not one the answer has already shown: a small model that has run out of things to
  say copies a sentence again, and may go on with a new one, so generation goes on (on
  bench/eval_answers.py's sites, stopping at the first repeat saved a fifth of the
  generation time and lost 3 of 72 answers' key facts),
- and, when it ends in ":", what it introduces is shown too.
A code block whose lines are not all in the sources, when at least SNAP_SHARE of them are
lines of one code block of a source, is that block garbled in the copying (a line dropped, a
value changed): the source's block is shown in its place, verbatim, cited to its source. On
bench/eval_answers.py's sites (MkDocs, HTTPX, pagemind) the answers held their key facts in
0.83 / 0.75 / 0.58 of the questions against 0.83 / 0.71 / 0.54 with such blocks held back.
Citations the model wrote itself ("[2]") are taken out first: the check cites, not the model.
While the answer streams, and when it was cut off (the token limit, Stop), the last unit may
be unfinished and is not judged.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pagemind.assistant.sentences import FENCE, Unit, cut_units, join_units
from pagemind.assistant.support import SourceText, code_spans, content_words, support

SUPPORT_SHARE = 0.75
SNAP_SHARE = 0.5
_MODEL_CITATION = re.compile(r" ?\[\d{1,2}\]")
_HAS_WORD = re.compile(r"[A-Za-z0-9]")
# Why a unit is not shown as an answer.
CODE_NOT_FOUND = "code not in the docs"
NOT_SUPPORTED = "not in the docs"
RESTATES = "only restates the question"
INTRODUCES = "introduces what was held back"
REPEATS = "repeats an earlier sentence"


@dataclass(frozen=True)
class Claim:
    unit: Unit
    source: int | None  # the cited source's number, from 1; None: no source has a word
    reason: str  # why the unit is held back; "" when it is shown

    @property
    def supported(self) -> bool:
        return not self.reason

    def to_json(self) -> dict:
        return {"text": self.unit.text, "source": self.source, "reason": self.reason}


class Attributor:
    """The sources of one answer (their texts, in citation order) and its question."""

    def __init__(self, sources: Sequence[str], question: str) -> None:
        self.sources = [SourceText(text) for text in sources]
        self.question = SourceText(question)
        self.blocks = [[u for u in cut_units(text) if u.kind == "code"] for text in sources]
        # While an answer streams, claims() runs at every token: each finished unit is
        # judged once.
        self._claims: dict[Unit, Claim] = {}

    def claims(self, answer: str, final: bool = True) -> list[Claim]:
        """The units of `answer`, each judged; while it streams (final False) the last unit
        may still grow, and waits, as does a unit that introduces it (ends in ":")."""
        units = cut_units(_MODEL_CITATION.sub("", answer))
        if not final:
            units = units[:-1]
        claims = _without_repeats([self._claim(unit) for unit in units])
        for i in reversed(range(len(claims))):
            if claims[i].supported and claims[i].unit.text.endswith(":"):
                following = claims[i + 1] if i + 1 < len(claims) else None
                if following is None and not final:
                    return claims[:i]
                if following is None or not following.supported:
                    claims[i] = dataclasses.replace(claims[i], reason=INTRODUCES)
        return claims

    def _claim(self, unit: Unit) -> Claim:
        if unit not in self._claims:
            self._claims[unit] = self.judge(unit)
        return self._claims[unit]

    def judge(self, unit: Unit) -> Claim:
        words = content_words(unit.text)
        spans = code_spans(unit)
        supports = [support(words, source, self.question) for source in self.sources]
        code_found = [sum(map(source.has_code, spans)) for source in self.sources]
        best = max(
            range(len(supports)),
            key=lambda i: (code_found[i], supports[i].novel, supports[i].found, -i),
            default=None,
        )
        if best is None or not (supports[best].found or code_found[best]):
            return Claim(unit, None, NOT_SUPPORTED)
        if any(not any(source.has_code(span) for source in self.sources) for span in spans):
            return self._snapped(unit, spans) or Claim(unit, best + 1, CODE_NOT_FOUND)
        chosen = supports[best]
        if chosen.words and chosen.found < SUPPORT_SHARE * chosen.words:
            return Claim(unit, best + 1, NOT_SUPPORTED)
        if not chosen.novel and all(map(self.question.has_code, spans)):
            return Claim(unit, best + 1, RESTATES)
        return Claim(unit, best + 1, "")

    def _snapped(self, unit: Unit, spans: list[str]) -> Claim | None:
        """The source's code block that a garbled copy `unit` stands for, as a shown claim;
        None when the unit is not a code block or copies none (SNAP_SHARE)."""
        spans = [span for span in spans if _HAS_WORD.search(span)]  # not "]" or "..."
        if unit.kind != "code" or not spans:
            return None
        best, matched = None, 0
        for number, blocks in enumerate(self.blocks, start=1):
            for block in blocks:
                lines = set(code_spans(block))
                count = sum(span in lines for span in spans)
                if count > matched:
                    best, matched = (number, block), count
        if best is None or matched < SNAP_SHARE * len(spans):
            return None
        number, block = best
        return Claim(dataclasses.replace(block, block=unit.block), number, "")


def _without_repeats(claims: list[Claim]) -> list[Claim]:
    """The claims, each that repeats one shown before held back."""
    shown: set[str] = set()
    for i, claim in enumerate(claims):
        if claim.supported and claim.unit.text in shown:
            claims[i] = dataclasses.replace(claim, reason=REPEATS)
        elif claim.supported:
            shown.add(claim.unit.text)
    return claims


def cited_text(claims: Sequence[Claim]) -> str:
    """The supported claims as the answer's text, each with its citation."""
    shown = [claim for claim in claims if claim.supported]
    cited = [
        Unit(_with_citation(claim.unit, claim.source), claim.unit.kind, claim.unit.block)
        for claim in shown
    ]
    return join_units(cited)


def _with_citation(unit: Unit, source: int) -> str:
    if unit.kind == "code":  # after the block, closed if the answer ended inside it
        lines = unit.text.split("\n")
        closed = len(lines) > 1 and FENCE.match(lines[-1])
        return f"{unit.text}\n[{source}]" if closed else f"{unit.text}\n```\n[{source}]"
    text = unit.text.rstrip()
    end = len(text) - len(text.rstrip(".!?:"))
    return f"{text[: len(text) - end]} [{source}]{text[len(text) - end :]}"
