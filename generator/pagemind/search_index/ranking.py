"""Ranking: BM25 over the keyword statistics, cosine over the vectors, their fusion, sections
from chunks, and the relevance test. runtime/retrieval.js ranks the same way
(parity-tested); the constants below travel in the index description so it reads the same
values.

- keyword: BM25 (k1, b) summed over the query's distinct terms in order of appearance.
- vector: cosine of the query vector with each chunk's dequantized vector, in two passes so
  that a browser fetches the vectors of a few chunks only. The first scores every chunk by
  its sign bits (the cosine estimated as the unit query's dot product with the signs over
  the square root of the dimensions: 48 bytes a chunk at 384 dimensions, against 388 for
  the int8 vector); the best FIRST_PASS_CANDIDATES (or k, if more) go on to the exact
  cosine, and only they are ranked. On bench/vector_first_pass.py's 72 questions over
  three sites the hybrid top 5 is that of exact cosine over every chunk for 70 at 20
  candidates and all 72 at 40 (for a question the docs do not cover, whose cosines are
  flat, the order below the best hit may differ, but not the relevance verdict).
- hybrid: cosine + FUSION_WEIGHT * keyword strength * coverage (the "lift"), in the same two
  passes (the sign estimate + the lift, then the exact cosine + the lift), where the
  strength is the chunk's BM25 over the most any chunk could score for the query ((k1 + 1)
  times the summed idf of its terms), in [0, 1), and the coverage the share of the query's
  idf mass it holds. Scores are fused, not ranks: a keyword list of chunks that merely share
  a common word must not outvote the meaning (reciprocal rank fusion ranked below
  vector-only on the MkDocs questions). Weighing the strength by the coverage lifts a chunk
  that holds most of the query's rare words and barely one that repeats one of them: on
  bench/eval_answers.py's three sites it ranks at or above keyword-only and vector-only at
  every k (section hit@1 0.67/0.79/0.75 against 0.67/0.71/0.67 for cosine + 0.3 * strength,
  hit@3 and hit@5 the same or higher).
- sections: chunks of one section are one result, at the rank of its best chunk, their
  texts joined in reading order (never one section twice among the sources).
- ties: the lower chunk number (reading order of the site) first.
- relevance ("do the docs cover this?"): with vectors, some hit's cosine reaches MIN_COSINE
  (all-MiniLM-L6-v2 puts a question and a passage that answers it at 0.3 to 0.8, unrelated
  texts below 0.2); keyword-only, some hit holds at least MIN_COVERAGE of the query's idf
  mass (a query term no chunk has counts with the highest idf, so unknown words weigh).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from pagemind.search_index.chunks import Chunk
from pagemind.search_index.keywords import K1, B, KeywordStats, keyword_terms

FUSION_WEIGHT = 1.0
KEYWORD_WEIGHT = 0.3  # of a section's keyword strength in the assistant's evidence score
MIN_COSINE = 0.25
MIN_COVERAGE = 0.5
FIRST_PASS_CANDIDATES = 40


def ranking_settings() -> dict:
    """What runtime/retrieval.js ranks with."""
    return {
        "k1": K1,
        "b": B,
        "fusion_weight": FUSION_WEIGHT,
        "keyword_weight": KEYWORD_WEIGHT,
        "min_cosine": MIN_COSINE,
        "min_coverage": MIN_COVERAGE,
        "first_pass_candidates": FIRST_PASS_CANDIDATES,
    }


@dataclass(frozen=True)
class Hit:
    id: int  # the chunk's number in the index
    url: str
    page: str
    heading: str
    breadcrumb: str
    text: str
    score: float  # of the ranking that produced the hit: BM25, cosine or fused
    cosine: float | None  # None when the ranking had no query vector
    coverage: float  # share of the query's idf mass this chunk holds
    strength: float  # BM25 over the query's ceiling, in [0, 1)
    chunks: tuple[int, ...] = ()  # a section's chunks, in reading order (sections())

    def to_json(self) -> dict:
        """The `pagemind search --json` shape."""
        return {"url": self.url, "page": self.page, "heading": self.heading, "score": self.score}


class Ranker:
    def __init__(self, chunks: list[Chunk], stats: KeywordStats, vectors: np.ndarray | None):
        """vectors: (chunks, dimensions) unit rows, float64, or None for keyword-only."""
        self.chunks = chunks
        self.stats = stats
        self.vectors = vectors
        # What the index's signs file holds: a component is "+" where it is not negative.
        self.signs = None if vectors is None else np.where(vectors >= 0, 1, -1).astype(np.int8)

    def keyword(self, query: str, k: int) -> list[Hit]:
        keywords = self._bm25(query)
        ranked = _ranked(keywords.scores)
        return [self._hit(n, keywords.scores[n], keywords, None) for n in ranked[:k]]

    def vector(self, query_vector: np.ndarray, k: int, query: str = "") -> list[Hit]:
        """Cosine ranking; `query` gives the hits' keyword figures."""
        return self._two_passes(query_vector, self._bm25(query), 0.0, k)

    def hybrid(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """Fused ranking; keyword ranking alone when there is no query vector."""
        if query_vector is None or self.vectors is None:
            return self.keyword(query, k)
        return self._two_passes(query_vector, self._bm25(query), FUSION_WEIGHT, k)

    def candidates(self, query: str, query_vector: np.ndarray, k: int = 0) -> list[int]:
        """The chunks whose exact vectors a hybrid ranking reads (a browser fetches their
        groups)."""
        return self._first_pass(_unit(query_vector), self._bm25(query), FUSION_WEIGHT, k)

    def _first_pass(
        self, unit: np.ndarray, keywords: _KeywordScores, weight: float, k: int
    ) -> list[int]:
        """The candidates of the exact pass: the best chunks by sign estimate + weight * lift
        (`unit`: the query vector over its norm)."""
        estimates = (self.signs * unit).sum(axis=1) / np.sqrt(len(unit))
        lifts = np.zeros(len(self.chunks))
        for number in keywords.scores:
            lifts[number] = keywords.lift(number)
        order = np.argsort(-(estimates + weight * lifts), kind="stable")
        return order[: max(FIRST_PASS_CANDIDATES, k)].tolist()

    def _two_passes(
        self, query_vector: np.ndarray, keywords: _KeywordScores, weight: float, k: int
    ) -> list[Hit]:
        """The first pass's candidates ranked by exact cosine + weight * lift."""
        unit = _unit(query_vector)
        candidates = self._first_pass(unit, keywords, weight, k)
        cosines = {n: float(self.vectors[n] @ unit) for n in candidates}
        scores = {n: cosines[n] + weight * keywords.lift(n) for n in candidates}
        return [self._hit(n, scores[n], keywords, cosines) for n in _ranked(scores)[:k]]

    def term_weights(self, query: str) -> dict[str, float]:
        """The query's distinct terms, in order of appearance, and their idf."""
        return {term: self.stats.idf(term) for term in dict.fromkeys(keyword_terms(query))}

    def _bm25(self, query: str) -> _KeywordScores:
        """BM25 score and idf coverage of every chunk holding a query term."""
        average = self.stats.average_length
        scores: dict[int, float] = {}
        matched: dict[int, float] = {}
        total = 0.0
        for term, idf in self.term_weights(query).items():
            total += idf
            for number, frequency in self.stats.postings.get(term, ()):
                length = self.stats.lengths[number]
                norm = K1 * (1 - B + B * length / average)
                scores[number] = scores.get(number, 0.0) + idf * frequency * (K1 + 1) / (
                    frequency + norm
                )
                matched[number] = matched.get(number, 0.0) + idf
        coverage = {number: idf / total for number, idf in matched.items()}
        return _KeywordScores(scores, coverage, (K1 + 1) * total)

    def _hit(
        self,
        number: int,
        score: float,
        keywords: _KeywordScores,
        cosines: dict[int, float] | None,
    ) -> Hit:
        chunk = self.chunks[number]
        return Hit(
            id=number,
            url=chunk.url,
            page=chunk.page,
            heading=chunk.heading,
            breadcrumb=chunk.breadcrumb,
            text=chunk.text,
            score=float(score),
            cosine=None if cosines is None else float(cosines[number]),
            coverage=keywords.coverage.get(number, 0.0),
            strength=keywords.strength(number),
            chunks=(number,),
        )


@dataclass(frozen=True)
class _KeywordScores:
    scores: dict[int, float]  # BM25 of each chunk holding a query term
    coverage: dict[int, float]
    ceiling: float  # no chunk's BM25 reaches it: (k1 + 1) times the query terms' idf

    def strength(self, number: int) -> float:
        return self.scores.get(number, 0.0) / self.ceiling if self.ceiling else 0.0

    def lift(self, number: int) -> float:
        """What the keywords add to a chunk's cosine in the hybrid ranking, per unit of
        FUSION_WEIGHT."""
        return self.strength(number) * self.coverage.get(number, 0.0)


def sections(hits: list[Hit]) -> list[Hit]:
    """One hit per section (url), at the place of its best chunk, holding the texts of all
    its chunks among `hits` in reading order and the best of their figures."""
    grouped: dict[str, list[Hit]] = {}
    for hit in hits:
        grouped.setdefault(hit.url, []).append(hit)
    return [_section(group) for group in grouped.values()]


def _section(group: list[Hit]) -> Hit:
    best = group[0]
    if len(group) == 1:
        return best
    ordered = sorted(group, key=lambda hit: hit.id)
    cosines = [hit.cosine for hit in group if hit.cosine is not None]
    return dataclasses.replace(
        best,
        text="\n\n".join(hit.text for hit in ordered),
        cosine=max(cosines) if cosines else None,
        coverage=max(hit.coverage for hit in group),
        strength=max(hit.strength for hit in group),
        chunks=tuple(hit.id for hit in ordered),
    )


def is_relevant(hits: list[Hit]) -> bool:
    """False when the docs do not cover the query (see the module docstring)."""
    if not hits:
        return False
    if hits[0].cosine is not None:
        return max(hit.cosine for hit in hits) >= MIN_COSINE
    return max(hit.coverage for hit in hits) >= MIN_COVERAGE


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64)
    return vector / np.linalg.norm(vector)


def _ranked(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda number: (-scores[number], number))
