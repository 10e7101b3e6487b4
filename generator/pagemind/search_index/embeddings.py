"""Chunk embeddings from the site's embedder package, cached by content hash.

The embedder is read from the very package the browser loads (its manifest and shards),
through the numpy BERT reference, so a query embedded in the browser and the chunks
embedded here come from the same weights and tokenizer.

Cache: <site root>/.pagemind-cache/embeddings/<manifest file stem>.npz, a key per embedded
text (sha256 of the text) and its float32 vector. The manifest's name carries its content
hash, so another model, or the same one packed differently, starts a new cache. A rebuild
embeds only texts whose key is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pagemind.models.bert import Bert
from pagemind.models.package import read_package
from pagemind.models.safetensors_source import BertModel
from pagemind.models.wordpiece import wordpiece_tokenizer

log = logging.getLogger("pagemind")

EMBED_BATCH = 16  # chunks per forward pass: a progress step every second or so


class Embedder:
    """The embedder package's model, loaded on first use (reading it takes a second)."""

    def __init__(self, manifest_path: Path) -> None:
        self.manifest_path = manifest_path
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        # Counts tokens for chunking: no [CLS]/[SEP], no truncation.
        self._counter = wordpiece_tokenizer(self.manifest["tokenizer"])
        self._counter.no_truncation()
        self._bert: Bert | None = None

    @property
    def dimensions(self) -> int:
        return self.manifest["config"]["hidden_size"]

    @property
    def max_tokens(self) -> int:
        """Tokens per text the embedder reads, [CLS] and [SEP] included; it truncates the rest."""
        return self.manifest["config"]["max_length"]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._bert is None:
            manifest, tensors = read_package(self.manifest_path)
            self._bert = Bert(BertModel.from_package(manifest, tensors))
        return self._bert.embed(texts)


class EmbeddingCache:
    """Vectors by text hash for one embedder; `embed` computes only what is missing."""

    def __init__(self, embedder: Embedder, folder: Path) -> None:
        self.embedder = embedder
        self.path = folder / f"{embedder.manifest_path.stem}.npz"
        self.vectors: dict[str, np.ndarray] = self._read()
        self.embedded = 0  # texts this cache sent to the model, over its life

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text (rows in order); new texts are embedded and saved."""
        keys = [_key(text) for text in texts]
        missing = list({key: text for key, text in zip(keys, texts, strict=True)
                        if key not in self.vectors}.items())  # fmt: skip
        if missing:
            try:
                self._compute(missing)
            finally:  # an interrupted first build keeps what it embedded
                self._save(set(keys))
        if not keys:
            return np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        return np.stack([self.vectors[key] for key in keys])

    def _compute(self, missing: list[tuple[str, str]]) -> None:
        quiet = not sys.stderr.isatty() or not log.isEnabledFor(logging.INFO)
        log.info("Embedding %d new chunk(s)", len(missing))
        with tqdm(total=len(missing), desc="Embedding", unit="chunk", disable=quiet) as bar:
            for start in range(0, len(missing), EMBED_BATCH):
                batch = missing[start : start + EMBED_BATCH]
                vectors = self.embedder.embed([text for _, text in batch])
                for (key, _), vector in zip(batch, vectors, strict=True):
                    self.vectors[key] = vector
                bar.update(len(batch))
        self.embedded += len(missing)

    def _read(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path) as saved:
                return dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))
        except (OSError, ValueError, KeyError):
            return {}  # no cache yet, or an unreadable one: embed again

    def _save(self, live: set[str]) -> None:
        """Keeps the texts of this build only, so the cache does not grow with every edit."""
        kept = sorted(key for key in self.vectors if key in live)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.stem + ".partial.npz")
        np.savez(partial, keys=np.array(kept), vectors=np.stack([self.vectors[k] for k in kept]))
        os.replace(partial, self.path)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
