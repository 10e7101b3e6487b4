"""The index's files under `_pagemind/index/`, content-hashed, and the description that
site.json carries (paths relative to `_pagemind/`); shards.py says how they are cut:

    manifest.<hash>.json        {"total_length": terms in all chunks,
                                 "terms": {"first": [first term of each shard], "files": [hash]},
                                 "fragments": {"first": [first chunk of each], "files": [hash]},
                                 "vectors": {"first": [first chunk of each], "files": [hash]}}
                                 ("vectors" only with an embedder)
    terms/<n>.<hash>.json       {"terms": {term: [chunk gap, frequency, chunk length, ...]}}
    fragments/<n>.<hash>.json   {"chunks": [{url, page, anchor, heading, breadcrumb, text}]}
    vectors/<n>.<hash>.bin      float32 scale per chunk of the group, then its int8 rows
                                (little-endian; the groups start where the fragments do)
    signs.<hash>.bin            every chunk's sign bits, 32-bit little-endian words per row

    "index": {"format": "pagemind-index/3", "count": N, "manifest": "index/manifest.<hash>.json",
              "stopwords": [...],
              "vectors": {"signs": "index/signs.<hash>.bin", "dimensions": D,
                          "embedder": "models/embedder/manifest.<hash>.json"} | null,
              "ranking": {k1, b, fusion_weight, keyword_weight, min_cosine, min_coverage,
                          first_pass_candidates}}

The browser (runtime/retrieval.js) reads the manifest first, then for a query the shards of
its terms and the fragments of the chunks it shows; a meaning-based ranking reads the signs
and the vector groups of its candidates (ranking.py says how). Python reads every file and
ranks the same numbers.

Vectors are int8 with one scale per vector (max |component| / 127): a quarter of float32's
bytes, and cosine rankings barely move. Python ranks with the dequantized vectors too, so
the browser and the terminal rank the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pagemind.errors import PagemindError
from pagemind.search_index.chunks import Chunk
from pagemind.search_index.keywords import STOPWORDS, KeywordStats
from pagemind.search_index.ranking import ranking_settings
from pagemind.search_index.shards import (
    content_hash,
    decode_shard,
    fragments,
    json_bytes,
    pack_signs,
    shard_path,
    stats_from_shards,
    term_shards,
    unpack_signs,
    vector_groups,
)

INDEX_FORMAT = "pagemind-index/3"
TERMS, FRAGMENTS, VECTORS = "terms", "fragments", "vectors"  # folders under index/


@dataclass(frozen=True)
class IndexFiles:
    files: dict[str, bytes]  # site-relative path -> content
    description: dict  # site.json's "index"

    @property
    def bytes_per_chunk(self) -> float:
        total = sum(len(data) for data in self.files.values())
        return total / max(self.description["count"], 1)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 rows, float32 scale per row)."""
    peak = np.abs(vectors).max(axis=1)
    scales = np.where(peak > 0, peak / 127, 1).astype(np.float32)
    return np.round(vectors / scales[:, None]).astype(np.int8), scales


def dequantize(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Unit rows, float64: what both rankers compute cosines with."""
    vectors = values.astype(np.float64) * scales.astype(np.float64)[:, None]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def index_files(
    chunks: list[Chunk],
    stats: KeywordStats,
    vectors: np.ndarray | None,
    embedder: str | None,
) -> IndexFiles:
    """embedder: the embedder manifest's path relative to `_pagemind/` (with vectors)."""
    shards, texts = term_shards(stats), fragments(chunks)
    files = shards.files(TERMS) | texts.files(FRAGMENTS)
    manifest = {
        "total_length": sum(stats.lengths),
        TERMS: shards.manifest(),
        FRAGMENTS: texts.manifest(),
    }
    vector_description = None
    if vectors is not None:
        values, scales = quantize(vectors)
        groups = vector_groups(values, scales, texts.first)
        files |= groups.files(VECTORS, "bin")
        manifest[VECTORS] = groups.manifest()
        signs = pack_signs(values)
        signs_path = f"index/signs.{content_hash(signs)}.bin"
        files[signs_path] = signs
        vector_description = {
            "signs": signs_path,
            "dimensions": vectors.shape[1],
            "embedder": embedder,
        }
    manifest_bytes = json_bytes(manifest)
    manifest_path = f"index/manifest.{content_hash(manifest_bytes)}.json"
    files[manifest_path] = manifest_bytes
    description = {
        "format": INDEX_FORMAT,
        "count": len(chunks),
        "manifest": manifest_path,
        "stopwords": sorted(STOPWORDS),
        "vectors": vector_description,
        "ranking": ranking_settings(),
    }
    return IndexFiles({f"_pagemind/{path}": data for path, data in files.items()}, description)


@dataclass(frozen=True)
class LoadedIndex:
    chunks: list[Chunk]
    stats: KeywordStats
    vectors: np.ndarray | None  # unit rows, float64
    embedder_manifest: Path | None


def read_index(site_dir: Path) -> LoadedIndex:
    """The index a build wrote into `site_dir`, as the browser reads it."""
    bundle = site_dir / "_pagemind"

    def read(path: str) -> bytes:
        return (bundle / path).read_bytes()

    entry = _read_json("site.json", read)
    description = entry.get("index")
    if not description or description.get("format") != INDEX_FORMAT:
        raise PagemindError(
            "the built site has no search index of this pagemind version",
            file=bundle / "site.json",
            key="index",
            fix="rebuild the site with `pagemind build`",
        )
    return parse_index(description, read, bundle)


def parse_index(description: dict, read: Callable[[str], bytes], bundle: Path) -> LoadedIndex:
    """The whole index from its files; read(path relative to _pagemind/) gives a file's
    bytes."""
    folders = (TERMS, FRAGMENTS, VECTORS) if description["vectors"] else (TERMS, FRAGMENTS)
    manifest = _read_json(description["manifest"], read, lambda data: _manifest(data, folders))
    term_paths, fragment_paths = (_file_paths(manifest, folder) for folder in (TERMS, FRAGMENTS))
    count = description["count"]
    shards = [_read_json(path, read, decode_shard) for path in term_paths]
    texts = [_read_json(path, read, _chunks) for path in fragment_paths]
    chunks = [chunk for fragment in texts for chunk in fragment]
    try:
        stats = stats_from_shards(shards, count)
    except IndexError:  # a posting names a chunk beyond the count
        stats = None
    if stats is None or len(chunks) != count:
        raise PagemindError(
            f"the search index named by {description['manifest']} does not hold the {count} "
            "chunks site.json counts",
            fix="rebuild the site",
        )
    vectors, embedder = None, None
    if description["vectors"]:
        vectors = _read_vectors(description, manifest, read)
        embedder = bundle / description["vectors"]["embedder"]
    return LoadedIndex(chunks, stats, vectors, embedder)


def _read_vectors(description: dict, manifest: dict, read: Callable[[str], bytes]) -> np.ndarray:
    """Every chunk's unit vector from the vector groups, checked against the signs file."""
    count, dimensions = description["count"], description["vectors"]["dimensions"]
    paths = _file_paths(manifest, VECTORS, "bin")
    sizes = np.diff([*manifest[VECTORS]["first"], count]).tolist()
    values = [np.zeros((0, dimensions), np.int8)]
    scales = [np.zeros(0, np.float32)]
    for path, size in zip(paths, sizes, strict=True):
        group = _read_file(path, read, lambda data, size=size: _group(data, size, dimensions))
        values.append(group[0])
        scales.append(group[1])
    signs_path = description["vectors"]["signs"]
    signs = _read_file(signs_path, read, lambda data: unpack_signs(data, count, dimensions))
    rows = np.concatenate(values)
    if not np.array_equal(signs, rows >= 0):
        raise PagemindError(
            f"the vectors of the search index ({signs_path} and index/vectors/) do not hold "
            f"the {count} chunks site.json counts",
            fix="rebuild the site",
        )
    return dequantize(rows, np.concatenate(scales))


def _group(data: bytes, size: int, dimensions: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 rows, float32 scales) of a vector group of `size` chunks."""
    scales = np.frombuffer(data, dtype="<f4", count=size)
    values = np.frombuffer(data, dtype=np.int8, offset=4 * size).reshape(size, dimensions)
    return values, scales


def _manifest(manifest: dict, folders: tuple[str, ...]) -> dict:
    """The manifest, once each of `folders` names its files and their first keys."""
    for folder in folders:
        if len(manifest[folder]["first"]) != len(manifest[folder]["files"]):
            raise ValueError(f"{folder}: not as many first keys as files")
    return manifest


def _file_paths(manifest: dict, folder: str, extension: str = "json") -> list[str]:
    """The paths of the files of `folder` that the manifest names."""
    hashes = manifest[folder]["files"]
    return [shard_path(folder, n, digest, extension) for n, digest in enumerate(hashes)]


def _read_json(path: str, read: Callable[[str], bytes], parse: Callable = lambda data: data):
    """parse(the file's JSON): an error names the file."""
    return _read_file(path, read, lambda data: parse(json.loads(data)))


def _read_file(path: str, read: Callable[[str], bytes], parse: Callable[[bytes], object]):
    """parse(the file's bytes): an error names the file."""
    try:
        return parse(read(path))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PagemindError(
            f"cannot read the search index file {path}: {error!r}", fix="rebuild the site"
        ) from None


def _chunks(fragment: dict) -> list[Chunk]:
    return [Chunk(**chunk) for chunk in fragment["chunks"]]
