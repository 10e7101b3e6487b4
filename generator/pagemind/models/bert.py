"""The numpy reference BERT encoder: text in, one L2-normalised vector per text out.

    embeddings: word + position + token type, LayerNorm
    N x post-LN layer: x = LN(x + attention(x)); x = LN(x + W2 gelu(W1 x))
    pooling: mean over the text's tokens (or its [CLS] token), then L2 normalisation

A batch is packed end to end instead of padded: every step except attention works token by
token, so the packed tokens go through each matrix as one float32 matmul, and attention runs
per text over exactly that text's tokens. That equals attention with a padding mask, without
computing the padding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from pagemind.models import layers
from pagemind.models.safetensors_source import BertModel
from pagemind.models.wordpiece import wordpiece_tokenizer

# Packed tokens per forward pass: big matmuls, activations of a few tens of MB.
TOKENS_PER_BATCH = 4096


class Bert:
    """The encoder with its tokenizer; weights are dequantized to float32 once, here."""

    def __init__(self, model: BertModel) -> None:
        self.config = model.config
        self.tokenizer = wordpiece_tokenizer(model.tokenizer_spec)
        self.weights = {name: tensor.dequantize() for name, tensor in model.tensors.items()}

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with [CLS] and [SEP]; texts longer than config.max_length are truncated."""
        return [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text, (len(texts), hidden_size) float32.

        Only the first config.max_length tokens of a text count (256 for MiniLM, about
        1000 characters of English): split longer texts before embedding them.
        """
        return self.embed_token_ids(self.tokenize(texts))

    def embed_token_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        pooled = [self._pool(hidden) for hidden in self.hidden_states(sequences)]
        if not pooled:
            return np.zeros((0, self.config.hidden_size), dtype=np.float32)
        return layers.l2_normalize(np.stack(pooled))

    def hidden_states(self, sequences: Sequence[Sequence[int]]) -> Iterator[np.ndarray]:
        """The last layer's (tokens, hidden_size) output for each sequence, in order."""
        for batch in _batches(sequences):
            packed = self._encode(batch)
            yield from np.split(packed, np.cumsum([len(ids) for ids in batch])[:-1])

    def _encode(self, batch: list[Sequence[int]]) -> np.ndarray:
        lengths = [len(ids) for ids in batch]
        if max(lengths) > self.config.max_positions:
            raise ValueError(f"a sequence is longer than {self.config.max_positions} tokens")
        token_ids = np.concatenate([np.asarray(ids, dtype=np.int64) for ids in batch])
        positions = np.concatenate([np.arange(length) for length in lengths])
        ends = np.cumsum(lengths).tolist()
        spans = [slice(end - length, end) for end, length in zip(ends, lengths, strict=True)]
        x = self._embeddings(token_ids, positions)
        for layer in range(self.config.num_layers):
            x = self._layer(x, spans, f"encoder.layer.{layer}.")
        return x

    def _embeddings(self, token_ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        w = self.weights
        x = (
            w["embeddings.word_embeddings.weight"][token_ids]
            + w["embeddings.position_embeddings.weight"][positions]
            # One segment: every token has token type 0.
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        return self._layer_norm(x, "embeddings.LayerNorm")

    def _layer(self, x: np.ndarray, spans: list[slice], prefix: str) -> np.ndarray:
        """One post-LN encoder layer over packed tokens; `spans` are each text's rows."""
        heads, head_dim = self.config.num_heads, self.config.head_dim
        q, k, v = (
            self._linear(x, f"{prefix}attention.self.{name}").reshape(-1, heads, head_dim)
            for name in ("query", "key", "value")
        )
        context = np.empty_like(q)
        for rows in spans:
            context[rows] = layers.attention(q[rows], k[rows], v[rows], causal_offset=None)
        attended = self._linear(context.reshape(x.shape), f"{prefix}attention.output.dense")
        x = self._layer_norm(x + attended, f"{prefix}attention.output.LayerNorm")
        hidden = layers.gelu(self._linear(x, f"{prefix}intermediate.dense"))
        return self._layer_norm(
            x + self._linear(hidden, f"{prefix}output.dense"), f"{prefix}output.LayerNorm"
        )

    def _linear(self, x: np.ndarray, module: str) -> np.ndarray:
        return x @ self.weights[f"{module}.weight"].T + self.weights[f"{module}.bias"]

    def _layer_norm(self, x: np.ndarray, module: str) -> np.ndarray:
        return layers.layer_norm(
            x,
            self.weights[f"{module}.weight"],
            self.weights[f"{module}.bias"],
            self.config.layer_norm_eps,
        )

    def _pool(self, hidden: np.ndarray) -> np.ndarray:
        if self.config.pooling == "cls":
            return hidden[0]
        return hidden.mean(axis=0)


def _batches(sequences: Sequence[Sequence[int]]) -> Iterator[list[Sequence[int]]]:
    """Consecutive runs of sequences holding at most TOKENS_PER_BATCH tokens (or just one)."""
    batch: list[Sequence[int]] = []
    tokens = 0
    for ids in sequences:
        if batch and tokens + len(ids) > TOKENS_PER_BATCH:
            yield batch
            batch, tokens = [], 0
        batch.append(ids)
        tokens += len(ids)
    if batch:
        yield batch
