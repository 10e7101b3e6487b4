"""Ranking: BM25 over the keyword statistics, cosine over the vectors, reciprocal rank fusion,
and the relevance test. runtime/retrieval.js ranks the same way (parity-tested); the
constants below travel in the index description so it reads the same values.

- keyword: BM25 (k1, b) summed over the query's distinct terms in order of appearance.
- vector: cosine of the query vector with each chunk's dequantized vector.
- hybrid: reciprocal rank fusion, sum of 1 / (RRF_K + rank) over both lists (rank from 1;
  a chunk without a query term is not in the keyword list). Ranks, not scores, are fused:
  BM25 and cosine live on scales that do not compare.
- ties: the lower chunk number (reading order of the site) first.
- relevance ("do the docs cover this?"): with vectors, some hit's cosine reaches MIN_COSINE
  (all-MiniLM-L6-v2 puts a question and a passage that answers it at 0.3 to 0.8, unrelated
  texts below 0.2); keyword-only, some hit holds at least MIN_COVERAGE of the query's idf
  mass (a query term no chunk has counts with the highest idf, so unknown words weigh).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pagemind.search_index.chunks import Chunk
from pagemind.search_index.keywords import K1, B, KeywordStats, keyword_terms

RRF_K = 60
MIN_COSINE = 0.25
MIN_COVERAGE = 0.5


def ranking_settings() -> dict:
    """What runtime/retrieval.js ranks with."""
    return {
        "k1": K1,
        "b": B,
        "rrf_k": RRF_K,
        "min_cosine": MIN_COSINE,
        "min_coverage": MIN_COVERAGE,
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

    def to_json(self) -> dict:
        """The `pagemind search --json` shape."""
        return {"url": self.url, "page": self.page, "heading": self.heading, "score": self.score}


class Ranker:
    def __init__(self, chunks: list[Chunk], stats: KeywordStats, vectors: np.ndarray | None):
        """vectors: (chunks, dimensions) unit rows, float64, or None for keyword-only."""
        self.chunks = chunks
        self.stats = stats
        self.vectors = vectors

    def keyword(self, query: str, k: int) -> list[Hit]:
        scores, coverage = self._bm25(query)
        ranked = _ranked(scores)
        return [self._hit(n, scores[n], coverage, None) for n in ranked[:k]]

    def vector(self, query_vector: np.ndarray, k: int, query: str = "") -> list[Hit]:
        cosines = self._cosines(query_vector)
        _, coverage = self._bm25(query)
        ranked = _ranked(dict(enumerate(cosines.tolist())))
        return [self._hit(n, cosines[n], coverage, cosines) for n in ranked[:k]]

    def hybrid(self, query: str, query_vector: np.ndarray | None, k: int) -> list[Hit]:
        """Fused ranking; keyword ranking alone when there is no query vector."""
        if query_vector is None or self.vectors is None:
            return self.keyword(query, k)
        scores, coverage = self._bm25(query)
        cosines = self._cosines(query_vector)
        fused: dict[int, float] = {}
        for ranking in (_ranked(scores), _ranked(dict(enumerate(cosines.tolist())))):
            for rank, number in enumerate(ranking, 1):
                fused[number] = fused.get(number, 0.0) + 1.0 / (RRF_K + rank)
        return [self._hit(n, fused[n], coverage, cosines) for n in _ranked(fused)[:k]]

    def _bm25(self, query: str) -> tuple[dict[int, float], dict[int, float]]:
        """BM25 score and idf coverage of every chunk holding a query term."""
        terms = list(dict.fromkeys(keyword_terms(query)))
        average = self.stats.average_length
        scores: dict[int, float] = {}
        matched: dict[int, float] = {}
        total = 0.0
        for term in terms:
            idf = self.stats.idf(term)
            total += idf
            for number, frequency in self.stats.postings.get(term, ()):
                length = self.stats.lengths[number]
                norm = K1 * (1 - B + B * length / average)
                scores[number] = scores.get(number, 0.0) + idf * frequency * (K1 + 1) / (
                    frequency + norm
                )
                matched[number] = matched.get(number, 0.0) + idf
        coverage = {number: idf / total for number, idf in matched.items()}
        return scores, coverage

    def _cosines(self, query_vector: np.ndarray) -> np.ndarray:
        query = np.asarray(query_vector, dtype=np.float64)
        return self.vectors @ (query / np.linalg.norm(query))

    def _hit(
        self, number: int, score: float, coverage: dict[int, float], cosines: np.ndarray | None
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
            coverage=coverage.get(number, 0.0),
        )


def is_relevant(hits: list[Hit]) -> bool:
    """False when the docs do not cover the query (see the module docstring)."""
    if not hits:
        return False
    if hits[0].cosine is not None:
        return max(hit.cosine for hit in hits) >= MIN_COSINE
    return max(hit.coverage for hit in hits) >= MIN_COVERAGE


def _ranked(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda number: (-scores[number], number))
