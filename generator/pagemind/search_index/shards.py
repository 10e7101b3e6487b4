"""The index cut into small files, so that a query downloads only what it reads (see
index_files.py for the layout):

- term shards: the terms in sorted order (UTF-16 code units, the order of JavaScript's `<`),
  cut into runs of about SHARD_BYTES; a term's shard is the last one whose first term is not
  after it, so the manifest needs only each shard's first term. A term's postings are
  [chunk gap, frequency, chunk length, ...]: the gap from the previous chunk number (the
  first from 0) keeps numbers short, and the length, with the manifest's total length, is
  all BM25 needs, so scores stay exact without a table of every chunk's length.
- fragments: the chunks in reading order cut into runs of about FRAGMENT_BYTES, preferably
  where a page ends, so a result list fetches the texts of the chunks it shows and little
  more; the manifest gives each fragment's first chunk number.
- vector groups: the int8 vectors cut where the fragments are (a group's float32 scales,
  then its rows), so a meaning-based ranking fetches the groups of its candidates only.
- signs: one bit per component of every chunk's vector (set where it is not negative), rows
  of 32-bit little-endian words, bit j of word w for component 32 w + j: the first pass of a
  meaning-based ranking reads them all, at an eighth of a byte per component.

Every file is named by its content's hash, so a host and the service worker keep it for good.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from pagemind.search_index.chunks import Chunk
from pagemind.search_index.keywords import KeywordStats

SHARD_BYTES = 6_000
FRAGMENT_BYTES = 6_000
HASH_CHARS = 12
Postings = list[tuple[int, int]]  # [(chunk number, frequency)]


@dataclass(frozen=True)
class Cut:
    """Files of one kind: the first key of each (a term, or a chunk number) and its bytes."""

    first: list
    contents: list[bytes]

    @property
    def hashes(self) -> list[str]:
        return [content_hash(data) for data in self.contents]

    def manifest(self) -> dict:
        return {"first": self.first, "files": self.hashes}

    def files(self, folder: str, extension: str = "json") -> dict[str, bytes]:
        """Paths relative to `_pagemind/` -> content."""
        return {
            shard_path(folder, number, digest, extension): data
            for number, (digest, data) in enumerate(zip(self.hashes, self.contents, strict=True))
        }


def shard_path(folder: str, number: int, digest: str, extension: str = "json") -> str:
    return f"index/{folder}/{number}.{digest}.{extension}"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def json_bytes(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def utf16_order(term: str) -> bytes:
    """The sort key that orders strings as JavaScript compares them."""
    return term.encode("utf-16-be", "surrogatepass")


def term_shards(stats: KeywordStats) -> Cut:
    terms = sorted(stats.postings, key=utf16_order)
    entries = ((term, encode_postings(stats.postings[term], stats.lengths)) for term in terms)
    runs = list(_runs(entries, lambda entry: len(json_bytes(entry)), SHARD_BYTES))
    return Cut(
        [run[0][0] for run in runs],
        [json_bytes({"terms": dict(run)}) for run in runs],
    )


def fragments(chunks: list[Chunk]) -> Cut:
    """Runs of chunks; a run ends where a page ends once it holds half its size."""
    runs: list[list[dict]] = []
    firsts: list[int] = []
    size = 0
    for number, chunk in enumerate(chunks):
        record = dataclasses.asdict(chunk)
        new_page = number > 0 and chunk.page != chunks[number - 1].page
        if not runs or size >= FRAGMENT_BYTES or (new_page and size >= FRAGMENT_BYTES / 2):
            runs.append([])
            firsts.append(number)
            size = 0
        runs[-1].append(record)
        size += len(json_bytes(record))
    return Cut(firsts, [json_bytes({"chunks": run}) for run in runs])


def vector_groups(values: np.ndarray, scales: np.ndarray, firsts: list[int]) -> Cut:
    """The int8 rows and their scales in groups starting at the chunks `firsts`."""
    ends = [*firsts[1:], len(values)][: len(firsts)]
    return Cut(
        list(firsts),
        [
            scales[first:end].astype("<f4").tobytes() + values[first:end].tobytes()
            for first, end in zip(firsts, ends, strict=True)
        ],
    )


def sign_words(dimensions: int) -> int:
    return math.ceil(dimensions / 32)


def pack_signs(values: np.ndarray) -> bytes:
    """The sign bits of int8 rows, each row padded to whole 32-bit words."""
    count, dimensions = values.shape
    bits = np.zeros((count, 32 * sign_words(dimensions)), dtype=bool)
    bits[:, :dimensions] = values >= 0
    return np.packbits(bits, axis=1, bitorder="little").tobytes()


def unpack_signs(data: bytes, count: int, dimensions: int) -> np.ndarray:
    """(count, dimensions) booleans: True where a component is not negative."""
    packed = np.frombuffer(data, dtype=np.uint8).reshape(count, 4 * sign_words(dimensions))
    return np.unpackbits(packed, axis=1, bitorder="little")[:, :dimensions].astype(bool)


def _runs(entries: Iterable, size_of, target: int) -> Iterator[list]:
    run: list = []
    size = 0
    for entry in entries:
        if run and size >= target:
            yield run
            run, size = [], 0
        run.append(entry)
        size += size_of(entry)
    if run:
        yield run


def encode_postings(postings: Postings, lengths: list[int]) -> list[int]:
    encoded: list[int] = []
    previous = 0
    for number, frequency in postings:
        encoded += [number - previous, frequency, lengths[number]]
        previous = number
    return encoded


def decode_postings(encoded: list[int]) -> list[tuple[int, int, int]]:
    """[(chunk number, frequency, chunk length)]."""
    decoded = []
    number = 0
    for gap, frequency, length in zip(encoded[::3], encoded[1::3], encoded[2::3], strict=True):
        number += gap
        decoded.append((number, frequency, length))
    return decoded


def decode_shard(shard: dict) -> dict[str, list[tuple[int, int, int]]]:
    """A term shard's content: term -> [(chunk number, frequency, chunk length)]."""
    return {term: decode_postings(encoded) for term, encoded in shard["terms"].items()}


def stats_from_shards(shards: Iterable[dict], count: int) -> KeywordStats:
    """The keyword statistics back from every term shard, decoded."""
    lengths = [0] * count
    postings: dict[str, Postings] = {}
    for shard in shards:
        for term, decoded in shard.items():
            postings[term] = [(number, frequency) for number, frequency, _ in decoded]
            for number, _, length in decoded:
                lengths[number] = length
    return KeywordStats(lengths, dict(sorted(postings.items())))
