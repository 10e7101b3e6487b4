"""Compile a BERT encoder into a program with one phase, `embed`, mirroring models/bert.py.

Texts are packed end to end, as the numpy reference packs them: every step but attention
and pooling works token by token over all `n_tokens` tokens at once; attention_packed lets
each token see only its own text, and pool_sequences pools each text's rows. The host
writes, for `n_tokens` tokens of `n_sequences` texts (see `pack_sequences`):

    tokens           u32 per token: the token ids ([CLS] ... [SEP])
    positions        u32 per token: its position in its text
    token_spans      u32 pair per token: (first token of its text, the text's length)
    sequence_spans   u32 pair per text: (first token, length)

and reads `embeddings`: n_sequences unit vectors of hidden_size floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from pagemind.gpu.device import GpuDevice
from pagemind.gpu.kernels import (
    ATTENTION_MAX_KEYS,
    MAX_WORKGROUPS_PER_DIMENSION,
    check_head_dim,
)
from pagemind.gpu.program import BufferSpec, Program, ProgramBuilder, ProgramRunner
from pagemind.gpu.runner import KernelRunner
from pagemind.models.safetensors_source import BertModel

PHASE = "embed"
INPUTS = ("tokens", "positions", "token_spans", "sequence_spans")
OUTPUT = "embeddings"
U32_BYTES = 4
L2_EPS = 1e-12  # torch.nn.functional.normalize's, which sentence-transformers uses
# Tokens per submit when a build embeds many texts: a few dozen submits for a large site,
# while element-wise kernels over intermediate_size floats per token (add_bias: 256 per
# workgroup, 1536 per token for MiniLM) stay within 65535 workgroups.
PACK_TOKENS = 8192


class _EmbedderCompiler(ProgramBuilder):
    def __init__(self, model: BertModel, max_tokens: int) -> None:
        super().__init__(model.tensors, max_tokens)
        self.config = model.config
        self.n_tokens = "n_tokens"

    def compile(self) -> Program:
        for name, count in zip(INPUTS, (1, 1, 2, 2), strict=True):
            self.program.buffers[name] = BufferSpec(name, self.max_tokens * count * U32_BYTES)
        # Never written: every token has token type 0, as in the reference.
        self.program.buffers["token_types"] = BufferSpec("token_types", self.max_tokens * U32_BYTES)
        self.embeddings()
        for layer in range(self.config.num_layers):
            self.encoder_layer(f"encoder.layer.{layer}.")
        self.pool()
        self.program.phases[PHASE] = self.steps
        return self.program

    def embeddings(self) -> None:
        """x = LayerNorm(word[tokens] + position[positions] + token_type[0])."""
        hidden = self.config.hidden_size
        tables = (("word", "tokens"), ("position", "positions"), ("token_type", "token_types"))
        rows = []
        for table, ids in tables:
            rows.append(self.rows(f"{table}_rows", hidden))
            self.emit(
                "embedding",
                f"embeddings.{table}_embeddings.weight",
                {"ids": ids, "out": rows[-1]},
                {"n_embd": hidden, "n_tokens": self.n_tokens},
            )
        self.add(rows[0], rows[1], "word_and_position")
        self.add("word_and_position", rows[2], "embedded")
        self.layer_norm("embedded", "embeddings.LayerNorm", "x")

    def encoder_layer(self, prefix: str) -> None:
        """Post-LN: x = LN(x + attention(x)); x = LN(x + W2 gelu(W1 x + b1) + b2)."""
        c = self.config
        for name in ("query", "key", "value"):
            self.linear(
                f"{prefix}attention.self.{name}.weight", "x", self.rows(name, c.hidden_size)
            )
        context = self.rows("context", c.hidden_size)
        self.emit(
            "attention_packed",
            None,
            {"q": "query", "k": "key", "v": "value", "spans": "token_spans", "out": context},
            {
                "n_tokens": self.n_tokens,
                "n_heads": c.num_heads,
                "n_kv_heads": c.num_heads,
                "head_dim": c.head_dim,
                "kv_len": 0,  # each token's keys come from token_spans
                "causal": 0,
                "causal_offset": 0,
            },
        )
        self.residual(context, f"{prefix}attention.output.dense", f"{prefix}attention.output")
        intermediate = self.rows("intermediate", c.intermediate_size)
        self.linear(f"{prefix}intermediate.dense.weight", "x", intermediate)
        activated = self.rows("activated", c.intermediate_size)
        self.emit(
            "gelu",
            None,
            {"a": intermediate, "out": activated},
            {"n": self.times(c.intermediate_size), "row_len": c.intermediate_size},
        )
        self.residual(activated, f"{prefix}output.dense", f"{prefix}output")

    def residual(self, x: str, dense: str, norm_prefix: str) -> None:
        """x = LayerNorm(x + dense(x_in)): the bias is added to the residual first, so the
        matrix product accumulates into it in one kernel."""
        hidden = self.config.hidden_size
        residual = self.rows("residual", hidden)
        self.emit(
            "add_bias",
            None,
            {"a": "x", "b": self.tensor(f"{dense}.bias"), "out": residual},
            {"n": self.times(hidden), "row_len": hidden},
        )
        n_out, n_in = self.tensors[f"{dense}.weight"].shape
        self.emit(
            "matmul_accumulate",
            f"{dense}.weight",
            {"x": x, "out": residual},
            {"n_in": n_in, "n_out": n_out, "n_tokens": self.n_tokens},
        )
        self.layer_norm(residual, f"{norm_prefix}.LayerNorm", "x")

    def pool(self) -> None:
        hidden = self.config.hidden_size
        pooled = self.rows("pooled", hidden)
        self.emit(
            "pool_sequences",
            None,
            {"hidden": "x", "spans": "sequence_spans", "out": pooled},
            {
                "n_sequences": "n_sequences",
                "n": hidden,
                "first_token_only": int(self.config.pooling == "cls"),
            },
        )
        self.emit(
            "l2_normalize",
            None,
            {"x": pooled, "out": self.rows(OUTPUT, hidden)},
            {"n_rows": "n_sequences", "n": hidden, "eps": L2_EPS},
        )

    def add(self, a: str, b: str, out: str) -> None:
        hidden = self.config.hidden_size
        self.emit(
            "add",
            None,
            {"a": a, "b": b, "out": self.rows(out, hidden)},
            {"n": self.times(hidden), "row_len": hidden},
        )

    def layer_norm(self, x: str, module: str, out: str) -> None:
        c = self.config
        self.emit(
            "layer_norm",
            None,
            {
                "x": x,
                "weight": self.tensor(f"{module}.weight"),
                "bias": self.tensor(f"{module}.bias"),
                "out": self.rows(out, c.hidden_size),
            },
            {"n_rows": self.n_tokens, "n": c.hidden_size, "eps": c.layer_norm_eps},
        )


def compile_embedder(model: BertModel, max_tokens: int = 512) -> Program:
    """The `embed` phase for at most `max_tokens` packed tokens (variables n_tokens and
    n_sequences); a text may be up to config.max_length tokens long."""
    c = model.config
    if c.max_length > ATTENTION_MAX_KEYS:
        raise ValueError(f"the attention kernel holds at most {ATTENTION_MAX_KEYS} keys")
    check_head_dim(c.head_dim)
    if not 1 <= max_tokens <= MAX_WORKGROUPS_PER_DIMENSION:
        raise ValueError(f"max_tokens must be between 1 and {MAX_WORKGROUPS_PER_DIMENSION}")
    return _EmbedderCompiler(model, max_tokens).compile()


def pack_sequences(sequences: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """The program's inputs for token-id sequences packed end to end (see the module doc)."""
    lengths = np.array([len(ids) for ids in sequences], dtype=np.uint32)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.uint32)
    sequence_spans = np.stack([starts, lengths], axis=1)
    return {
        "tokens": np.concatenate([np.asarray(ids, np.uint32) for ids in sequences]),
        "positions": np.concatenate([np.arange(n, dtype=np.uint32) for n in lengths]),
        "token_spans": np.repeat(sequence_spans, lengths, axis=0).reshape(-1),
        "sequence_spans": sequence_spans.reshape(-1),
    }


def run_embedder(program: ProgramRunner, sequences: Sequence[Sequence[int]]) -> np.ndarray:
    """One unit vector per sequence, (len(sequences), hidden_size), computed on the GPU."""
    capacity = program.program.buffers["tokens"].nbytes // U32_BYTES
    # Both buffers hold max_tokens rows: one u32 per token, hidden_size floats per vector.
    hidden = program.program.buffers[OUTPUT].nbytes // program.program.buffers["tokens"].nbytes
    if not sequences:
        return np.zeros((0, hidden), np.float32)
    inputs = pack_sequences(sequences)
    n_tokens = int(inputs["tokens"].size)
    if n_tokens > capacity:
        raise ValueError(f"{n_tokens} tokens do not fit the program's {capacity}")
    for name in INPUTS:
        program.write(name, inputs[name])
    program.run(PHASE, {"n_tokens": n_tokens, "n_sequences": len(sequences)})
    return program.read(OUTPUT)[: len(sequences) * hidden].reshape(len(sequences), hidden)


class ProgramEmbedder:
    """The embed program on a GPU for many texts at once: packed end to end into runs of at
    most `pack_tokens` tokens, one submit and one read-back per run."""

    def __init__(self, gpu: GpuDevice, model: BertModel, pack_tokens: int = PACK_TOKENS) -> None:
        self.hidden = model.config.hidden_size
        widest = max(model.config.intermediate_size, self.hidden) * 4
        self.pack_tokens = min(pack_tokens, gpu.limits["max-storage-buffer-binding-size"] // widest)
        program = compile_embedder(model, max_tokens=self.pack_tokens)
        self.program = ProgramRunner(KernelRunner(gpu), program, model.tensors)

    def embed(
        self,
        sequences: Sequence[Sequence[int]],
        on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
    ) -> np.ndarray:
        """One unit vector per token-id sequence ([CLS] ... [SEP], each within max_length).
        on_batch(indices, vectors), as in models.bert.Bert.embed, after each run."""
        embeddings = np.empty((len(sequences), self.hidden), dtype=np.float32)
        for start, stop in _runs([len(ids) for ids in sequences], self.pack_tokens):
            vectors = run_embedder(self.program, sequences[start:stop])
            embeddings[start:stop] = vectors
            if on_batch:
                on_batch(np.arange(start, stop), vectors)
        return embeddings


def _runs(lengths: Sequence[int], capacity: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive sequences, as many per run as `capacity` tokens hold."""
    start, tokens = 0, 0
    for index, length in enumerate(lengths):
        if index > start and tokens + length > capacity:
            yield start, index
            start, tokens = index, 0
        tokens += length
    if start < len(lengths):
        yield start, len(lengths)
