"""Keyword statistics for BM25, and the one keyword tokenizer (runtime/retrieval.js has the
same, parity-tested).

Tokenizer: lower case; words are runs of Unicode letters and digits (`[\\p{L}\\p{N}]+`); a
camel-case name counts whole and by its parts ("TimeoutException": "timeoutexception",
"timeout", "exception"), so a question in plain words finds the docs' identifiers;
English function words are dropped (the list travels in the index, so the browser drops the
same ones); a light plural stemmer folds "pages"/"page", "libraries"/"library". Its rules:

    -ies -> -y   (not -eies, -aies)      -es -> -e (not -aes, -ees, -oes)
    -s -> ""     (not -us, -ss, -is)      words of 3 letters or fewer stay as they are

Measured on bench/eval_answers.py's sites (MkDocs, HTTPX, pagemind): the camel-case parts
took the hybrid ranking's section hit@3 from 0.92 / 0.88 / 0.96 to 0.92 / 0.92 / 0.96 (HTTPX
hit@1 0.79 -> 0.83) and pagemind's passages from 0.92 to 0.96; Snowball's English stemmer in
place of the plural folding took MkDocs' hybrid hit@3 down to 0.83: the folding stays.

Stored per chunk: term frequencies of its breadcrumb (counted HEADING_WEIGHT times: a word
in a section's title says more about it than one in its text) plus its text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from pagemind.search_index.chunks import Chunk

HEADING_WEIGHT = 2
K1 = 1.2
B = 0.75
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for",
    "from", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not",
    "of", "on", "or", "so", "than", "that", "the", "their", "them", "then", "there",
    "these", "this", "to", "was", "we", "what", "when", "where", "which", "who", "why",
    "will", "with", "would", "you", "your",
})  # fmt: skip
_WORD = re.compile(r"[^\W_]+")  # str.isalnum characters: Unicode letters and digits
# Where a camel-case name's parts meet: "timeout|Exception", "HTTP|Client", "get|URL".
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def keyword_terms(text: str) -> list[str]:
    """The text's terms, in order, repeats kept."""
    words = [term for word in _WORD.findall(text) for term in _word_terms(word)]
    return [stem(word) for word in words if word not in STOPWORDS]


def _word_terms(word: str) -> list[str]:
    """The word in lower case and, when it is written in camel case, each of its parts."""
    parts = _CASE_CHANGE.split(word)
    pieces = [word, *parts] if len(parts) > 1 else [word]
    return [term for piece in pieces for term in _WORD.findall(piece.lower())]


def stem(word: str) -> str:
    if len(word) <= 3:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class KeywordStats:
    """BM25's inputs: each chunk's length in terms, and each term's postings."""

    lengths: list[int]
    postings: dict[str, list[tuple[int, int]]]  # term -> [(chunk number, frequency)]

    @property
    def average_length(self) -> float:
        return sum(self.lengths) / len(self.lengths) if self.lengths else 0.0

    def idf(self, term: str) -> float:
        """Lucene's BM25 idf: never negative; a term no chunk has gets the highest value."""
        count = len(self.lengths)
        frequency = len(self.postings.get(term, ()))
        return math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))


def keyword_stats(chunks: list[Chunk]) -> KeywordStats:
    lengths: list[int] = []
    postings: dict[str, list[tuple[int, int]]] = {}
    for number, chunk in enumerate(chunks):
        terms = keyword_terms(chunk.breadcrumb) * HEADING_WEIGHT + keyword_terms(chunk.text)
        lengths.append(len(terms))
        for term, frequency in Counter(terms).items():
            postings.setdefault(term, []).append((number, frequency))
    return KeywordStats(lengths, dict(sorted(postings.items())))
