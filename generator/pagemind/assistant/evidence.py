"""The evidence for a question: the first ranking's best sections, cut into units
(sentences, list items, code blocks: pagemind.assistant.sentences), every unit scored against
the question, and the sections ranked again by their best unit. A section often answers
with one sentence among others on nearby matters; its best unit says so better than the
vector of the whole chunk. runtime/evidence.js does the same (parity-tested).

    evidence = find_evidence(index, "How do I deploy?")    # a SiteIndex

which is, step by step (as runtime/evidence.js runs it around the embedder's worker):

    sections = candidate_sections(hits, chunks)      # hits: the hybrid ranking's chunks
    texts = unit_texts(sections)                     # embedded with the query's embedder
    evidence = weigh(sections, query_vector, unit_vectors, term_weights)

Scores:
- a unit: the cosine of its vector (its section's breadcrumb and its text, as chunks are
  embedded) with the query's; keyword-only, its share of the query's idf mass;
- a section: the mean of its best unit's cosine and its own, plus KEYWORD_WEIGHT times its
  keyword strength (pagemind.search_index.ranking); keyword-only, its BM25 order stays.
  A subsection of the best section that covers the question on its own goes first
  (_subsection_first).

Do the docs cover the question? With vectors, when the best section scores MIN_SCORE or
more, or holds MIN_COVERAGE of the question's idf mass (the keyword gate's own test, as the
search box judges without vectors). On bench/eval_answers.py's three sites, 88 of 90
off-topic prompts (chit-chat, other products, prompt injections) score 0.42 or less and
none holds more than 0.34 of its idf mass. All 72 questions but two score 0.47 or more;
those two (0.38 and 0.43: questions in the reader's words, such as "a callout box that
stays folded" for the docs' collapsible admonitions) hold 0.57 and 0.47 of theirs, and
the coverage lets the first through (pagemind's passages 0.83 -> 0.88).
Keyword-only, as the search box judges (pagemind.search_index.is_relevant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pagemind.assistant.sentences import Unit, cut_units
from pagemind.search_index.chunks import BREADCRUMB_SEPARATOR, Chunk
from pagemind.search_index.keywords import keyword_terms
from pagemind.search_index.ranking import (
    KEYWORD_WEIGHT,
    MIN_COVERAGE,
    Hit,
    is_relevant,
    sections,
)
from pagemind.search_index.site_index import SiteIndex

# Chunks the first ranking hands over, and the sections of them that are weighed: each unit
# is embedded at question time (about 85 per question at 8 sections with their neighbouring
# chunks), and on bench/eval_answers.py's sites 8 sections rank and quote as well as 16.
CANDIDATE_CHUNKS = 40
CANDIDATE_SECTIONS = 8
MIN_SCORE = 0.43


@dataclass(frozen=True)
class ScoredUnit:
    section: int  # the section's place in Evidence.sections
    unit: Unit
    score: float


@dataclass(frozen=True)
class Evidence:
    sections: list[Hit]  # best first, `score` the second ranking's
    units: list[ScoredUnit]  # of every section, in reading order within it
    weighed: bool  # the sections were ranked again by their units' vectors

    def units_of(self, section: int) -> list[ScoredUnit]:
        return [unit for unit in self.units if unit.section == section]

    @property
    def covers(self) -> bool:
        """Whether the docs hold an answer (see the module docstring)."""
        if not self.weighed:
            return is_relevant(self.sections)
        return self.section_covers(0)

    def section_covers(self, place: int) -> bool:
        """Whether the section at `place` holds an answer on its own: weighed, it scores
        MIN_SCORE or more or holds MIN_COVERAGE of the question's idf mass (keyword-only
        evidence judges no single section)."""
        return self.weighed and place < len(self.sections) and _covers_alone(self.sections[place])

    def prompt_places(self, top_k: int) -> list[int]:
        """The sections a prompt quotes, of the best `top_k`: the best, and each other that
        covers the question on its own (all of them when no section can be judged)."""
        places = range(min(top_k, len(self.sections)))
        return [p for p in places if p == 0 or not self.weighed or self.section_covers(p)]


def find_evidence(index: SiteIndex, query: str) -> Evidence:
    query_vector = index.embed_query(query)
    hits = index.ranker.hybrid(query, query_vector, CANDIDATE_CHUNKS)
    candidates = candidate_sections(hits, index.chunks)
    unit_vectors = None
    if query_vector is not None:
        unit_vectors = index.embedder.embed(unit_texts(candidates))
    return weigh(candidates, query_vector, unit_vectors, index.ranker.term_weights(query))


def candidate_sections(hits: Sequence[Hit], chunks: Sequence[Chunk]) -> list[Hit]:
    """The sections weighed for a question, from the first ranking's chunks, each with its
    chunks next to those (the index's `chunks`, numbered as the hits are)."""
    return [_with_neighbours(s, chunks) for s in sections(list(hits))[:CANDIDATE_SECTIONS]]


def _with_neighbours(section: Hit, chunks: Sequence[Chunk]) -> Hit:
    """The section with the chunks on either side of its own, where they are of the section
    too. Chunks are cut at a size, not where the text turns: the code block that a sentence
    introduces often opens the next chunk, which the first ranking, reading the code alone,
    may have left out. On bench/eval_answers.py's sites (MkDocs, HTTPX, pagemind) passages
    held their key facts in 0.92 / 0.79 / 0.92 of the questions against 0.92 / 0.71 / 0.88
    with the ranked chunks alone, and as often as with the whole sections (about 95 units
    to embed per question, against 85 with the neighbours and 60 without)."""
    near = {j for i in section.chunks for j in (i - 1, i, i + 1) if 0 <= j < len(chunks)}
    ids = sorted(j for j in near if chunks[j].url == section.url)
    if len(ids) == len(section.chunks):
        return section
    text = "\n\n".join(chunks[j].text for j in ids)
    return dataclasses.replace(section, text=text, chunks=tuple(ids))


def section_units(section: Hit) -> list[Unit]:
    return cut_units(section.text)


def unit_texts(candidates: Sequence[Hit]) -> list[str]:
    """What the embedder reads of each unit of each section, in order: the section's
    breadcrumb and the unit, a code block with the unit before it, which introduces it.
    Code read alone is far from a question in words: on bench/eval_answers.py's sites
    (MkDocs, HTTPX, pagemind) passages held their key facts in 0.92 / 0.83 / 0.96 of the
    questions, against 0.92 / 0.79 / 0.96 with each block alone."""
    return [
        f"{section.breadcrumb}\n{text}"
        for section in candidates
        for text in _introduced(section_units(section))
    ]


def _introduced(units: list[Unit]) -> list[str]:
    return [
        f"{units[i - 1].text}\n{unit.text}" if unit.kind == "code" and i > 0 else unit.text
        for i, unit in enumerate(units)
    ]


def weigh(
    candidates: Sequence[Hit],
    query_vector: np.ndarray | None,
    unit_vectors: np.ndarray | None,
    term_weights: Mapping[str, float],
) -> Evidence:
    """Units scored and sections ranked again; without vectors (keyword-only search), units
    by keyword coverage and sections in their order. term_weights: the query's terms and
    their idf (pagemind.search_index.ranking.Ranker.term_weights)."""
    per_section = [section_units(section) for section in candidates]
    if unit_vectors is None:
        scores = [[_coverage(unit.text, term_weights) for unit in units] for units in per_section]
        ranked = list(candidates)
    else:
        cosines = _cosines(unit_vectors, query_vector)
        scores = _split(cosines, [len(units) for units in per_section])
        best_units = [max(section_scores, default=-1.0) for section_scores in scores]
        ranked = [
            dataclasses.replace(section, score=_section_score(section, best))
            for section, best in zip(candidates, best_units, strict=True)
        ]
    order = sorted(range(len(ranked)), key=lambda i: (-ranked[i].score, i))
    if unit_vectors is not None and order:
        order = _subsection_first(order, ranked)
    return Evidence(
        [ranked[i] for i in order],
        [
            ScoredUnit(place, unit, score)
            for place, i in enumerate(order)
            for unit, score in zip(per_section[i], scores[i], strict=True)
        ],
        weighed=unit_vectors is not None,
    )


def _cosines(vectors: np.ndarray, query_vector: np.ndarray) -> list[float]:
    rows = np.asarray(vectors, np.float64)
    query = np.asarray(query_vector, np.float64)
    return (rows @ (query / np.linalg.norm(query)) / np.linalg.norm(rows, axis=1)).tolist()


def _section_score(section: Hit, best_unit: float) -> float:
    return (best_unit + section.cosine) / 2 + KEYWORD_WEIGHT * section.strength


def _covers_alone(section: Hit) -> bool:
    return section.score >= MIN_SCORE or section.coverage >= MIN_COVERAGE


def _subsection_first(order: list[int], ranked: Sequence[Hit]) -> list[int]:
    """`order` with the best section's best subsection that covers the question on its own
    moved first. A page's or section's opening text speaks of its whole topic and so reads
    close to many questions about it, while the subsection that also covers a question is
    where the docs answer it: "Enabling HTTP/2" under "HTTP/2", "Using an explicit encoding"
    under "Text encodings". The opening stays the runner-up. On bench/eval_answers.py's sites
    (MkDocs, HTTPX, pagemind) the evidence's best section answered 0.75 / 0.83 / 0.75 of the
    questions and passages held their key facts in 0.92 / 0.88 / 0.96, against
    0.71 / 0.75 / 0.75 and 0.92 / 0.83 / 0.96 in score order."""
    best = ranked[order[0]]
    for place, i in enumerate(order[1:], start=1):
        if _is_within(ranked[i], best) and _covers_alone(ranked[i]):
            return [i, *order[:place], *order[place + 1 :]]
    return order


def _is_within(section: Hit, outer: Hit) -> bool:
    return section.page == outer.page and section.breadcrumb.startswith(
        outer.breadcrumb + BREADCRUMB_SEPARATOR
    )


def _coverage(text: str, term_weights: Mapping[str, float]) -> float:
    total = sum(term_weights.values())
    if not total:
        return 0.0
    present = set(keyword_terms(text))
    return sum(weight for term, weight in term_weights.items() if term in present) / total


def _split(values: list[float], sizes: list[int]) -> list[list[float]]:
    parts, start = [], 0
    for size in sizes:
        parts.append(values[start : start + size])
        start += size
    return parts
