"""Chunk embeddings from the site's embedder package, cached by content hash.

The embedder is read from the very package the browser loads (its manifest and shards),
so a query embedded in the browser and the chunks embedded here come from the same weights
and tokenizer. They run through the numpy BERT reference, or through the compiled embed
program on a GPU (pagemind.gpu.embedder_program) where wgpu finds a real one: the vectors
agree to float noise.

Cache: <site root>/.pagemind-cache/embeddings/<manifest file stem>.npz, a key per embedded
text (sha256 of the text) and its float32 vector. The manifest's name carries its content
hash, so another model, or the same one packed differently, starts a new cache. A rebuild
embeds only texts whose key is missing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from pagemind.errors import PagemindError
from pagemind.models.bert import Bert
from pagemind.models.package import read_package
from pagemind.models.safetensors_source import BertModel
from pagemind.models.wordpiece import wordpiece_tokenizer

if TYPE_CHECKING:
    from pagemind.gpu.device import GpuDevice

log = logging.getLogger("pagemind")

OnBatch = Callable[[np.ndarray, np.ndarray], None]  # (positions of the texts, their vectors)

GPU_DEVICE_FILES = ("/dev/dri", "/dev/nvidiactl", "/dev/dxg")
PROGRESS_SECONDS = 5.0  # without a terminal (CI logs): a progress line this often


class Embedder:
    """The embedder package's model, loaded on first use (reading it takes a second)."""

    def __init__(self, manifest_path: Path, device: str = "auto", verify: bool = True) -> None:
        """device: "auto", "cpu" or "gpu", as [search] embed_device. verify: hash the shards
        as they load; a query skips it (the build that wrote them hashed them), so that it
        waits for no sha256 of the weights."""
        self.manifest_path = manifest_path
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        self.device = device
        self.verify = verify
        self._encode: Callable[[Sequence[str], OnBatch | None], np.ndarray] | None = None
        self.gpu: GpuDevice | None = None  # the GPU it embeds on, once loaded; None: numpy

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

    @functools.cached_property
    def _counter(self) -> Tokenizer:
        """Counts tokens for chunking: no [CLS]/[SEP], no truncation (built on first use:
        a query never counts)."""
        counter = wordpiece_tokenizer(self.manifest["tokenizer"])
        counter.no_truncation()
        return counter

    def embed(self, texts: Sequence[str], on_batch: OnBatch | None = None) -> np.ndarray:
        """Unit vectors, one per text; see Bert.embed for on_batch."""
        if self._encode is None:
            self._encode = self._load()
        return self._encode(texts, on_batch)

    def _load(self) -> Callable[[Sequence[str], OnBatch | None], np.ndarray]:
        manifest, tensors = read_package(self.manifest_path, verify=self.verify)
        model = BertModel.from_package(manifest, tensors)
        self.gpu = _embedding_gpu(self.device)
        if self.gpu is None:
            return Bert(model).embed
        # Imported here: wgpu loads only where a GPU embeds.
        from pagemind.gpu.embedder_program import ProgramEmbedder

        log.info("Embedding on %s", self.gpu.describe())
        program = ProgramEmbedder(self.gpu, model)
        tokenizer = wordpiece_tokenizer(model.tokenizer_spec)

        def encode(texts: Sequence[str], on_batch: OnBatch | None) -> np.ndarray:
            sequences = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
            return program.embed(sequences, on_batch)

        return encode


def _embedding_gpu(device: str) -> GpuDevice | None:
    """The GPU to embed on: any adapter for "gpu"; for "auto" a real GPU only, as numpy beats
    software adapters (lavapipe, llvmpipe), and none when wgpu finds no adapter."""
    if device == "cpu" or (device == "auto" and _only_software_adapters()):
        return None
    from pagemind.gpu.device import open_device

    try:
        gpu = open_device()
    except PagemindError:
        if device == "gpu":
            raise
        return None
    return None if device == "auto" and gpu.is_cpu else gpu


def _only_software_adapters() -> bool:
    """Linux without the device files of a GPU driver (DRM, NVIDIA, WSL's): wgpu could find
    software adapters only, and loading it to see costs half a second of a build."""
    return sys.platform == "linux" and not any(Path(path).exists() for path in GPU_DEVICE_FILES)


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
        log.info("Embedding %d new chunk(s)", len(missing))
        progress = _Progress(len(missing))

        def keep(indices: np.ndarray, vectors: np.ndarray) -> None:
            for index, vector in zip(indices.tolist(), vectors, strict=True):
                self.vectors[missing[index][0]] = vector
            self.embedded += len(indices)
            progress.update(len(indices))

        try:
            self.embedder.embed([text for _, text in missing], keep)
        finally:
            progress.close()

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


class _Progress:
    """Chunks done, chunks/s and time left: a bar on a terminal, else a log line every
    PROGRESS_SECONDS, so that a CI log shows a long first build moving."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = self.last_line = time.perf_counter()
        on_terminal = sys.stderr.isatty() and log.isEnabledFor(logging.INFO)
        self.bar = tqdm(total=total, desc="Embedding", unit="chunk") if on_terminal else None

    def update(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = time.perf_counter()
        if now - self.last_line >= PROGRESS_SECONDS and self.done < self.total:
            self.last_line = now
            rate = self.done / (now - self.started)
            log.info(
                "Embedding: %d/%d chunks, %.1f chunks/s, %s left",
                self.done,
                self.total,
                rate,
                _duration((self.total - self.done) / rate),
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        seconds = time.perf_counter() - self.started
        log.info(
            "Embedded %d chunk(s) in %.1f s, %.1f chunks/s",
            self.done,
            seconds,
            self.done / max(seconds, 1e-9),
        )


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
