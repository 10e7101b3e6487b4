"""The hybrid ranking fuses scores: a chunk's cosine plus its keyword strength weighed by the
share of the query's rare words it holds (runtime/retrieval.js fuses the same way: the
parity tests in test_parity.py and tests/assistant/test_grounding_parity.py)."""

from __future__ import annotations

import numpy as np
from pagemind.search_index.chunks import Chunk
from pagemind.search_index.keywords import keyword_stats
from pagemind.search_index.ranking import FUSION_WEIGHT, Ranker

QUERY = "set the proxy timeout for a request"
TEXTS = [
    # Repeats the query's common words (every page has them), holds none of its rare ones.
    "Set a request header. Set a request body. Set request cookies on a request.",
    # Holds the query's rare words once each.
    "The proxy waits for the timeout you give it before it gives up.",
    # Meaning close to the query, none of its words.
    "Choose how many seconds an outgoing call through an intermediary may take.",
    *(f"Page {n}: set the request templates, themes and navigation." for n in range(12)),
]


def ranker(cosines: list[float]) -> tuple[Ranker, np.ndarray]:
    """Chunks whose unit vectors have the given cosines with the returned query vector."""
    chunks = [Chunk(f"p{n}.md", f"p{n}/", "", f"P{n}", f"P{n}", t) for n, t in enumerate(TEXTS)]
    query = np.eye(2)[0]
    angles = np.arccos(np.clip(cosines, -1, 1))
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Ranker(chunks, keyword_stats(chunks), vectors), query


def test_holding_the_rare_words_outranks_repeating_common_ones() -> None:
    # cosine + 0.3 * strength alone put chunk 0 first: 0.61 against 0.53.
    index, query = ranker([0.6, 0.4, 0.2, *[0.1] * 12])
    hits = index.hybrid(QUERY, query, 3)
    assert [hit.id for hit in hits[:2]] == [1, 0]
    by_id = {hit.id: hit for hit in hits}
    assert by_id[0].strength > 0 and by_id[0].coverage < by_id[1].coverage
    for hit in hits:
        assert hit.score == hit.cosine + FUSION_WEIGHT * hit.strength * hit.coverage


def test_a_clearly_closer_meaning_outranks_a_partial_keyword_match() -> None:
    index, query = ranker([0.5, 0.3, 0.75, *[0.1] * 12])
    assert [hit.id for hit in index.hybrid(QUERY, query, 3)] == [2, 1, 0]
    assert [hit.id for hit in index.keyword(QUERY, 2)] == [1, 0]


def test_plain_words_find_a_camel_case_name() -> None:
    chunks = [
        Chunk("a.md", "a/", "", "A", "A", "Catch `TimeoutException` around the call."),
        Chunk("b.md", "b/", "", "B", "B", "Catch `ValueError` when the call fails."),
        *(Chunk(f"p{n}.md", f"p{n}/", "", "P", "P", "Pages and themes.") for n in range(8)),
    ]
    index = Ranker(chunks, keyword_stats(chunks), None)
    assert [hit.id for hit in index.keyword("which exception for a timeout?", 2)] == [0]
    assert [hit.id for hit in index.keyword("TimeoutException", 2)] == [0]
