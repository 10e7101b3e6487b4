"""The index's files under `_pagemind/index/`, content-hashed, and the description that
site.json carries (paths relative to `_pagemind/`):

    chunks.<hash>.json     {"chunks": [{url, page, anchor, heading, breadcrumb, text}]}
    keywords.<hash>.json   {"lengths": [terms per chunk], "terms": {term: [chunk, tf, ...]}}
    vectors.<hash>.bin     float32 scale per chunk, then int8 components, row after row
                           (little-endian; absent when the site has no embedder)

    "index": {"format": "pagemind-index/1", "count": N, "chunks": "index/chunks.<hash>.json",
              "keywords": "index/keywords.<hash>.json", "stopwords": [...],
              "vectors": {"file": "index/vectors.<hash>.bin", "dimensions": D,
                          "embedder": "models/embedder/manifest.<hash>.json"} | null,
              "ranking": {k1, b, rrf_k, min_cosine, min_coverage}}

Vectors are int8 with one scale per vector (max |component| / 127): a quarter of float32's
bytes, and cosine rankings barely move. Python ranks with the dequantized vectors too, so
the browser and the terminal rank the same numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pagemind.errors import PagemindError
from pagemind.search_index.chunks import Chunk
from pagemind.search_index.keywords import STOPWORDS, KeywordStats
from pagemind.search_index.ranking import ranking_settings

INDEX_FORMAT = "pagemind-index/1"
INDEX_FOLDER = "_pagemind/index"  # site-relative
HASH_CHARS = 12


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
    chunk_json = {"chunks": [dataclasses.asdict(chunk) for chunk in chunks]}
    files = {
        "chunks": _json_bytes(chunk_json),
        "keywords": _json_bytes(stats.to_json()),
    }
    if vectors is not None:
        values, scales = quantize(vectors)
        files["vectors"] = scales.astype("<f4").tobytes() + values.tobytes()
    paths = {role: _hashed(role, data) for role, data in files.items()}
    description = {
        "format": INDEX_FORMAT,
        "count": len(chunks),
        "chunks": paths["chunks"],
        "keywords": paths["keywords"],
        "stopwords": sorted(STOPWORDS),
        "vectors": None
        if vectors is None
        else {"file": paths["vectors"], "dimensions": vectors.shape[1], "embedder": embedder},
        "ranking": ranking_settings(),
    }
    site_files = {f"_pagemind/{paths[role]}": data for role, data in files.items()}
    return IndexFiles(site_files, description)


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
    """The index from its files; read(path relative to _pagemind/) gives a file's bytes."""
    chunks = [Chunk(**chunk) for chunk in _read_json(description["chunks"], read)["chunks"]]
    stats = KeywordStats.from_json(_read_json(description["keywords"], read))
    vectors, embedder = None, None
    if description["vectors"]:
        data = read(description["vectors"]["file"])
        count = len(chunks)
        scales = np.frombuffer(data, dtype="<f4", count=count)
        dimensions = description["vectors"]["dimensions"]
        values = np.frombuffer(data, dtype=np.int8, offset=4 * count).reshape(count, dimensions)
        vectors = dequantize(values, scales)
        embedder = bundle / description["vectors"]["embedder"]
    return LoadedIndex(chunks, stats, vectors, embedder)


def _hashed(role: str, data: bytes) -> str:
    extension = "bin" if role == "vectors" else "json"
    return f"index/{role}.{hashlib.sha256(data).hexdigest()[:HASH_CHARS]}.{extension}"


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _read_json(path: str, read: Callable[[str], bytes]) -> dict:
    try:
        return json.loads(read(path))
    except (OSError, ValueError) as error:
        raise PagemindError(
            f"cannot read the search index file {path}: {error}", fix="rebuild the site"
        ) from None
