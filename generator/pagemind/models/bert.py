"""The numpy reference BERT encoder: text in, one L2-normalised vector per text out.

    embeddings: word + position + token type, LayerNorm
    N x post-LN layer: x = LN(x + attention(x)); x = LN(x + W2 gelu(W1 x))
    pooling: mean over the text's tokens (or its [CLS] token), then L2 normalisation

Texts are sorted by length and packed end to end into batches instead of padded: every step
except attention works token by token, so the packed tokens go through each matrix as one
float32 matmul. Attention lays a batch out as (texts, longest text) with the padding keys
masked: the texts of a sorted batch have about the same length, so that padding is small, and
the masked result equals attention over exactly each text's tokens.

Batches run in parallel, one per available core, each with a single-threaded BLAS.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from pagemind.models import layers
from pagemind.models.safetensors_source import BertModel
from pagemind.models.wordpiece import wordpiece_tokenizer

# Packed tokens per forward pass: the widest activation (tokens x intermediate size) stays in
# a core's L2 cache, and progress moves every few chunks.
TOKENS_PER_BATCH = 512
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


class Bert:
    """The encoder with its tokenizer; weights are dequantized to float32 once, here, except
    the word embedding table (half the weights): a batch dequantizes its tokens' rows only, so
    a one-query process does not convert 30,000 rows to read ten."""

    def __init__(self, model: BertModel) -> None:
        self.config = model.config
        self.tokenizer = wordpiece_tokenizer(model.tokenizer_spec)
        self.word_embeddings = model.tensors[WORD_EMBEDDINGS]
        self.weights = {
            name: tensor.dequantize()
            for name, tensor in model.tensors.items()
            if name != WORD_EMBEDDINGS
        }

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with [CLS] and [SEP]; texts longer than config.max_length are truncated."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def embed(
        self, texts: Sequence[str], on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None
    ) -> np.ndarray:
        """One unit vector per text, (len(texts), hidden_size) float32.

        Only the first config.max_length tokens of a text count (256 for MiniLM, about
        1000 characters of English): split longer texts before embedding them.
        on_batch(indices, vectors) is called, in the calling thread, as each batch is done:
        the positions in `texts` of the batch's texts and their vectors.
        """
        return self.embed_token_ids(self.tokenize(texts), on_batch)

    def embed_token_ids(
        self,
        sequences: Sequence[Sequence[int]],
        on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
    ) -> np.ndarray:
        lengths = np.array([len(ids) for ids in sequences], dtype=np.int64)
        if len(sequences) and lengths.max() > self.config.max_positions:
            raise ValueError(f"a sequence is longer than {self.config.max_positions} tokens")
        embeddings = np.empty((len(sequences), self.config.hidden_size), dtype=np.float32)
        batches = _batches(np.argsort(lengths, kind="stable"), lengths)
        encoded = _map_in_parallel(
            lambda batch: layers.l2_normalize(self._pooled([sequences[i] for i in batch])),
            batches,
        )
        for batch, vectors in zip(batches, encoded, strict=True):
            embeddings[batch] = vectors
            if on_batch:
                on_batch(batch, vectors)
        return embeddings

    def flops(self, lengths: Iterable[int]) -> int:
        """Floating-point operations of the forward pass over texts of these token counts:
        2 per multiply-add of the dense layers (per token) and of attention (per token pair)."""
        hidden, intermediate = self.config.hidden_size, self.config.intermediate_size
        dense_per_token = 2 * (4 * hidden * hidden + 2 * hidden * intermediate)
        return self.config.num_layers * sum(
            dense_per_token * length + 4 * hidden * length * length for length in lengths
        )

    def _pooled(self, batch: list[Sequence[int]]) -> np.ndarray:
        layout = _Layout.of(batch)
        hidden = self._encode(batch, layout)
        if self.config.pooling == "cls":
            return hidden[layout.starts]
        return np.add.reduceat(hidden, layout.starts, axis=0) / layout.lengths[:, None]

    def _encode(self, batch: list[Sequence[int]], layout: _Layout) -> np.ndarray:
        """The last layer's output for the batch's packed tokens, (tokens, hidden_size)."""
        token_ids = np.fromiter(itertools.chain.from_iterable(batch), np.int64, len(layout.texts))
        x = self._embeddings(token_ids, layout.positions)
        for layer in range(self.config.num_layers):
            x = self._layer(x, layout, f"encoder.layer.{layer}.")
        return x

    def _embeddings(self, token_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        w = self.weights
        x = self.word_embeddings.dequantize_rows(token_ids)
        x += w["embeddings.position_embeddings.weight"][positions]
        # One segment: every token has token type 0.
        x += w["embeddings.token_type_embeddings.weight"][0]
        return self._layer_norm(x, "embeddings.LayerNorm")

    def _layer(self, x: np.ndarray, layout: _Layout, prefix: str) -> np.ndarray:
        """One post-LN encoder layer over packed tokens."""
        q, k, v = (
            self._linear(x, f"{prefix}attention.self.{name}") for name in ("query", "key", "value")
        )
        attended = self._linear(self._attention(q, k, v, layout), f"{prefix}attention.output.dense")
        attended += x
        x = self._layer_norm(attended, f"{prefix}attention.output.LayerNorm")
        hidden = layers.gelu(self._linear(x, f"{prefix}intermediate.dense"))
        output = self._linear(hidden, f"{prefix}output.dense")
        output += x
        return self._layer_norm(output, f"{prefix}output.LayerNorm")

    def _attention(
        self, q: np.ndarray, k: np.ndarray, v: np.ndarray, layout: _Layout
    ) -> np.ndarray:
        """Each text's tokens attend to that text's tokens: (tokens, hidden) in and out.

        The scores (texts x heads x longest^2) are as large as the widest activation, so they
        are touched as few times as possible: the scale goes into q, the mask only into the
        columns some text pads, and the softmax's division into the (smaller) context.
        """
        heads, head_dim = self.config.num_heads, self.config.head_dim
        shape = (len(layout.lengths), int(layout.lengths.max()), heads, head_dim)

        def padded(rows: np.ndarray) -> np.ndarray:  # (texts, heads, longest, head_dim)
            texts = np.zeros(shape, dtype=np.float32)
            texts[layout.texts, layout.positions] = rows.reshape(-1, heads, head_dim)
            return texts.transpose(0, 2, 1, 3)

        q *= np.float32(1 / math.sqrt(head_dim))
        scores = padded(q) @ padded(k).transpose(0, 1, 3, 2)
        shortest = int(layout.lengths.min())
        scores[..., shortest:] += layout.key_mask[..., shortest:]
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        context = scores @ padded(v)
        context /= scores.sum(axis=-1, keepdims=True)
        return context.transpose(0, 2, 1, 3)[layout.texts, layout.positions].reshape(q.shape)

    def _linear(self, x: np.ndarray, module: str) -> np.ndarray:
        result = x @ self.weights[f"{module}.weight"].T
        result += self.weights[f"{module}.bias"]
        return result

    def _layer_norm(self, x: np.ndarray, module: str) -> np.ndarray:
        return layers.layer_norm(
            x,
            self.weights[f"{module}.weight"],
            self.weights[f"{module}.bias"],
            self.config.layer_norm_eps,
        )


@dataclass(frozen=True)
class _Layout:
    """Where a batch's texts lie among its packed tokens."""

    lengths: np.ndarray  # (texts,) tokens per text
    starts: np.ndarray  # (texts,) each text's first row
    texts: np.ndarray  # (tokens,) the text of each row
    positions: np.ndarray  # (tokens,) the row's position within its text
    key_mask: np.ndarray  # (texts, 1, 1, longest): 0 for a text's keys, -inf for padding

    @classmethod
    def of(cls, batch: list[Sequence[int]]) -> _Layout:
        lengths = np.array([len(ids) for ids in batch], dtype=np.int64)
        starts = np.cumsum(lengths) - lengths
        texts = np.repeat(np.arange(len(batch)), lengths)
        positions = np.arange(int(lengths.sum())) - starts[texts]
        padding = np.arange(int(lengths.max())) >= lengths[:, None]
        key_mask = np.where(padding, -np.inf, 0).astype(np.float32)[:, None, None, :]
        return cls(lengths, starts, texts, positions, key_mask)


def _batches(order: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """Runs of `order` (sequence indices, shortest first) holding at most TOKENS_PER_BATCH
    tokens each (or a single sequence)."""
    batches: list[np.ndarray] = []
    start, tokens = 0, 0
    for end, index in enumerate(order):
        if end > start and tokens + lengths[index] > TOKENS_PER_BATCH:
            batches.append(order[start:end])
            start, tokens = end, 0
        tokens += lengths[index]
    if start < len(order):
        batches.append(order[start:])
    return batches


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (as
    containers and CI runners set)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS, Windows)
        cores = os.cpu_count() or 1
    return max(1, min(cores, _cgroup_cpu_quota() or cores))


def _cgroup_cpu_quota() -> int | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        return math.ceil(int(quota) / int(period))
    except (OSError, ValueError):  # no cgroup v2, or no quota ("max")
        return None


def _map_in_parallel(
    function: Callable[[np.ndarray], np.ndarray], items: Sequence[np.ndarray]
) -> Iterator[np.ndarray]:
    """function(item) for each item, in order, on one thread per available core.

    numpy releases the GIL inside BLAS and its array loops, so the threads compute in
    parallel. BLAS is held to one thread meanwhile: independent workers never wait for each
    other, whereas multithreaded BLAS meets at a barrier after every matmul, and when another
    process takes a core, its threads spin there and the whole build slows tenfold.
    """
    workers = min(available_cores(), len(items))
    with _blas_threads(1):
        if workers <= 1:
            yield from map(function, items)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
            yield from pool.map(function, items)


@contextmanager
def _blas_threads(count: int) -> Iterator[None]:
    with _threadpools().limit(limits=count, user_api="blas"):
        yield


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The BLAS libraries loaded in this process (looked up once: it scans loaded libraries)."""
    return ThreadpoolController()
