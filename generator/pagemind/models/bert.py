"""The numpy reference BERT encoder: text in, one L2-normalised vector per text out.

    embeddings: word + position + token type, LayerNorm
    N x post-LN layer: x = LN(x + attention(x)); x = LN(x + W2 gelu(W1 x))
    pooling: mean over the text's tokens (or its [CLS] token), then L2 normalisation

Texts are sorted by length and packed end to end into batches instead of padded: every step
except attention works token by token, so the packed tokens go through each matrix as one
float32 matmul. Attention runs text by text over the packed rows, all heads at once, so no
score is computed for padding and nothing is masked.

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
QKV = ("query", "key", "value")
QKV_FUSED = "query_key_value"
DENSE = ("attention.output.dense", "intermediate.dense", "output.dense")


class Bert:
    """The encoder with its tokenizer; weights are dequantized to float32 once, here, except
    the word embedding table (half the weights): a batch dequantizes its tokens' rows only, so
    a one-query process does not convert 30,000 rows to read ten.

    Each linear layer's matrix is kept transposed, (inputs, outputs) and contiguous: BLAS
    multiplies by it a few percent faster than by the stored (outputs, inputs) one.
    """

    def __init__(self, model: BertModel) -> None:
        self.config = model.config
        self.tokenizer = wordpiece_tokenizer(model.tokenizer_spec)
        self.word_embeddings = model.tensors[WORD_EMBEDDINGS]
        self.weights = {
            name: tensor.dequantize()
            for name, tensor in model.tensors.items()
            if name != WORD_EMBEDDINGS
        }
        for layer in range(self.config.num_layers):
            prefix = f"encoder.layer.{layer}."
            self._fuse_query_key_value(f"{prefix}attention.self.")
            for module in (f"attention.self.{QKV_FUSED}", *DENSE):
                name = f"{prefix}{module}.weight"
                self.weights[name] = np.ascontiguousarray(self.weights[name].T)

    def _fuse_query_key_value(self, prefix: str) -> None:
        """One (3 x hidden, hidden) matrix for the query, key and value projections: one
        matmul and one bias pass instead of three. Attention's 1/sqrt(head_dim) goes into the
        query's rows, so the scores come out scaled."""
        scale = np.float32(1 / math.sqrt(self.config.head_dim))
        for kind in ("weight", "bias"):
            query, key, value = (self.weights.pop(f"{prefix}{name}.{kind}") for name in QKV)
            self.weights[f"{prefix}{QKV_FUSED}.{kind}"] = np.concatenate(
                [query * scale, key, value]
            )

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
        token_ids = np.fromiter(
            itertools.chain.from_iterable(batch), np.int64, len(layout.positions)
        )
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
        query_key_value = self._linear(x, f"{prefix}attention.self.{QKV_FUSED}")
        context = self._attention(query_key_value, layout)
        attended = self._linear(context, f"{prefix}attention.output.dense")
        attended += x
        x = self._layer_norm(attended, f"{prefix}attention.output.LayerNorm")
        hidden = layers.gelu(self._linear(x, f"{prefix}intermediate.dense"))
        output = self._linear(hidden, f"{prefix}output.dense")
        output += x
        return self._layer_norm(output, f"{prefix}output.LayerNorm")

    def _attention(self, query_key_value: np.ndarray, layout: _Layout) -> np.ndarray:
        """Each text's tokens attend to that text's tokens: (tokens, 3 x hidden) in (scaled
        query, key, value of each row), (tokens, hidden) out.

        Text by text, every head in one batched matmul over strided views of the packed rows:
        no copy into a padded layout and back, no score for padding. The scores are laid out
        keys by queries, so the softmax's max and sum run down columns, which numpy vectorizes
        across the row (a reduction along rows of a text's length is several times slower).
        The softmax's division goes into the (smaller) context.
        """
        heads, head_dim = self.config.num_heads, self.config.head_dim
        context = np.empty((len(query_key_value), heads * head_dim), dtype=np.float32)
        for start, end in zip(layout.starts.tolist(), layout.ends.tolist(), strict=True):
            rows = query_key_value[start:end].reshape(end - start, 3, heads, head_dim)
            query, key, value = (rows[:, part].transpose(1, 0, 2) for part in range(3))
            scores = key @ query.transpose(0, 2, 1)  # (heads, keys, queries)
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            text_context = scores.transpose(0, 2, 1) @ value  # (heads, queries, head_dim)
            text_context /= scores.sum(axis=1)[..., None]
            context[start:end].reshape(end - start, heads, head_dim)[...] = text_context.transpose(
                1, 0, 2
            )
        return context

    def _linear(self, x: np.ndarray, module: str) -> np.ndarray:
        result = x @ self.weights[f"{module}.weight"]
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
    ends: np.ndarray  # (texts,) the row after each text's last
    positions: np.ndarray  # (tokens,) the row's position within its text

    @classmethod
    def of(cls, batch: list[Sequence[int]]) -> _Layout:
        lengths = np.array([len(ids) for ids in batch], dtype=np.int64)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        positions = np.arange(int(ends[-1])) - np.repeat(starts, lengths)
        return cls(lengths, starts, ends, positions)


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
