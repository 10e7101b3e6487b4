"""Compile a Llama-family decoder into a program, and run programs on wgpu-py.

A program is data: named buffers (model tensors or zeroed activations) and, per phase, the
ordered kernel dispatches with their bindings and uniforms. A uniform is a number or an
expression of the phase's variables (decode: `position`, the cached positions before the
new token), evaluated like the kernels' workgroup counts. The browser executes the same
program; here ProgramRunner executes it for the pre-build checks.

Decoders (Llama, Qwen2, Qwen3, Gemma 3) compile to a prefill and a decode phase here; the
BERT embedder compiles to an embed phase in embedder_program.py. A decoder's `logit_bias`
buffer (one f32 per vocabulary entry, zeros until the CPU writes it) is added to the logits
before any token is chosen, so the caller can make some tokens likelier (those of the
quoted sources); then its `copy_source` (copy_source_words) makes likelier the tokens that
would continue a passage of the sources the answer has started to copy (copy_span_bias.wgsl).

A decoder compiled with `adapter_ranks` (models/adapters.py) adds each adapted product's
B (A x), reading the buffers `<weight>.lora_a` and `.lora_b` that an adapter's tensors fill.
Switching adapters writes other bytes into those buffers; the steps never change. A step's
`adapter` says when it runs: always (None), only while an adapter is on (True) or only while
none is (False). Decode holds each adapted product twice: the plain kernel while no adapter
is on, so the base model keeps its dispatches (the fused SwiGLU too), and its `_lora` kernel,
which adds B (A x) in the same dispatch, while one is. Prefill, whose products serve many
tokens at once, and ranks beyond LORA_MAX_RANK take two more steps after the product
instead: t = A x, then out += B t.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from pagemind.gpu.kernels import (
    ATTENTION_MAX_KEYS,
    LORA_MAX_RANK,
    MAX_TOP_K,
    check_head_dim,
    evaluate,
    top_k_list_count,
)
from pagemind.gpu.runner import BufferCopy, Dispatch, KernelRunner, PreparedDispatch
from pagemind.models.adapters import LORA_A, LORA_B, adapter_tensors
from pagemind.models.architectures import HEAD_NORMS, ROPE_FACTORS
from pagemind.models.generate import MAX_COPY_SOURCE, MAX_SPAN_MATCH, CopySpans
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.tensors import QuantTensor

FLOAT_BYTES = 4
U32_BYTES = 4
COPY_SOURCE_HEADER = 2  # copy_source: n_source, strength's f32 bits, then the source ids
# The elementwise kernel that gates the FFN, by DecoderConfig.ffn_activation.
GATED_ACTIVATIONS = {"silu": "swiglu", "gelu_tanh": "geglu"}


@dataclass(frozen=True)
class BufferSpec:
    name: str
    nbytes: int
    tensor: str | None = None  # filled with this model tensor's stored bytes; else zeros
    adapter: bool = False  # the tensor comes from the adapter in use, not the model


@dataclass(frozen=True)
class ProgramStep:
    kernel: str
    buffers: dict[str, str]  # binding name -> program buffer name
    uniforms: dict[str, float | str]  # str: an expression of the phase variables
    weight_format: str | None = None
    adapter: bool | None = None  # runs always (None), or only while an adapter is on or off


@dataclass(frozen=True)
class ProductInput:
    """What a matrix product reads: its bindings (`x`...) and uniforms beyond n_in and n_out;
    `kernel_suffix` "_norm" (matvec_norm...): x under an RMS norm that the kernel applies."""

    buffers: dict[str, str]
    uniforms: dict[str, float | str] = field(default_factory=dict)
    kernel_suffix: str = ""


@dataclass
class Program:
    buffers: dict[str, BufferSpec] = field(default_factory=dict)
    phases: dict[str, list[ProgramStep]] = field(default_factory=dict)
    context_length: int | None = None  # positions a decoder's KV cache holds


class ProgramBuilder:
    """Emits steps into a program: the helpers every model compiler shares.

    `n_tokens` is the phase's token count (1, or the variable "n_tokens"); activation
    buffers hold `max_tokens` rows.
    """

    def __init__(
        self,
        tensors: Mapping[str, QuantTensor],
        max_tokens: int,
        adapter_ranks: Mapping[str, int] | None = None,
    ) -> None:
        self.tensors = tensors
        self.max_tokens = max_tokens
        self.adapter_ranks = adapter_ranks or {}
        self.program = Program()
        self.steps: list[ProgramStep] = []
        self.n_tokens: int | str = 1
        self.adapter_state: bool | None = None  # the `adapter` of the steps emitted now

    @property
    def batched(self) -> bool:
        return self.n_tokens != 1

    def fuses_adapter(self, weight: str) -> bool:
        """Whether the product of `weight` adds its adapter in its own dispatch (`_lora`)."""
        rank = self.adapter_ranks.get(weight, LORA_MAX_RANK + 1)
        return not self.batched and rank <= LORA_MAX_RANK

    @contextmanager
    def while_adapter(self, on: bool) -> Iterator[None]:
        """Steps emitted inside run only while an adapter is `on` (or off)."""
        outer, self.adapter_state = self.adapter_state, on
        try:
            yield
        finally:
            self.adapter_state = outer

    def linear(
        self, weight: str, x: str | ProductInput, out: str, accumulate: bool = False
    ) -> None:
        """out = x W^T (+ bias), or out += x W^T, for every token of the phase; a bias tensor
        beside the weight (qwen2's Q/K/V, every BERT linear) is added in a second step, and
        an adapter of the weight in the product (product) or two more steps
        (adapter_product)."""
        product_input = x if isinstance(x, ProductInput) else ProductInput({"x": x})
        n_out, n_in = self.tensors[weight].shape
        bias = weight.removesuffix(".weight") + ".bias"
        has_bias = bias in self.tensors
        if has_bias and accumulate:
            raise ValueError(f"{weight}: add the bias to the residual before accumulating")
        target = self.rows(out + "_without_bias", n_out) if has_bias else out
        kernel = "matmul" if self.batched else "matvec"
        kernel += product_input.kernel_suffix + ("_accumulate" if accumulate else "")
        uniforms: dict[str, float | str] = {"n_in": n_in, "n_out": n_out}
        if self.batched:
            uniforms["n_tokens"] = self.n_tokens
        buffers = {**product_input.buffers, "out": target}
        self.product(kernel, weight, buffers, uniforms | product_input.uniforms)
        if has_bias:
            self.emit(
                "add_bias",
                None,
                {"a": target, "b": self.tensor(bias), "out": out},
                {"n": self.times(n_out), "row_len": n_out},
            )
        if weight in self.adapter_ranks and not self.fuses_adapter(weight):
            self.adapter_product(weight, product_input, out)

    def product(
        self, kernel: str, weight: str, buffers: dict[str, str], uniforms: dict[str, float | str]
    ) -> None:
        """The product step; where it fuses the weight's adapter, twice: `kernel` while no
        adapter is on, `<kernel>_lora` while one is."""
        if not self.fuses_adapter(weight):
            self.emit(kernel, weight, buffers, uniforms)
            return
        adapter = {
            "lora_a": self.tensor(weight + LORA_A),
            "lora_b": self.tensor(weight + LORA_B),
        }
        with self.while_adapter(False):
            self.emit(kernel, weight, buffers, uniforms)
        with self.while_adapter(True):
            self.emit(f"{kernel}_lora", weight, buffers | adapter, uniforms)

    def adapter_product(self, weight: str, product_input: ProductInput, out: str) -> None:
        """out += (x A^T) B^T for the adapter of `weight`: the low-rank t = x A^T in a
        buffer of its own, then t B^T added to `out`."""
        rank, (n_out, n_in) = self.adapter_ranks[weight], self.tensors[weight].shape
        low_rank = self.rows("adapter_rank_rows", max(self.adapter_ranks.values()))
        kernel = "matmul" if self.batched else "matvec"
        tokens: dict[str, float | str] = {"n_tokens": self.n_tokens} if self.batched else {}
        with self.while_adapter(True):
            self.emit(
                kernel + product_input.kernel_suffix,
                weight + LORA_A,
                {**product_input.buffers, "out": low_rank},
                {"n_in": n_in, "n_out": rank, **tokens, **product_input.uniforms},
            )
            self.emit(
                kernel + "_accumulate",
                weight + LORA_B,
                {"x": low_rank, "out": out},
                {"n_in": rank, "n_out": n_out, **tokens},
            )

    def times(self, count: int) -> int | str:
        """`count` values per token of the phase."""
        return f"{self.n_tokens} * {count}" if self.batched else count

    def emit(
        self,
        kernel: str,
        weight: str | None,
        buffers: dict[str, str],
        uniforms: dict[str, float | str],
    ) -> None:
        weight_format = None
        if weight is not None:
            buffers = {"weights": self.tensor(weight), **buffers}
            weight_format = self.tensors[weight].format
        step = ProgramStep(kernel, buffers, uniforms, weight_format, self.adapter_state)
        self.steps.append(step)

    def rows(self, name: str, width: int) -> str:
        """An activation buffer of `width` floats per token, for the longest prefill."""
        return self.floats(name, width * self.max_tokens)

    def floats(self, name: str, count: int) -> str:
        self.program.buffers.setdefault(name, BufferSpec(name, count * FLOAT_BYTES))
        return name

    def words(self, name: str, count: int) -> str:
        """A buffer of `count` u32 values, zeros until written."""
        self.program.buffers.setdefault(name, BufferSpec(name, count * U32_BYTES))
        return name

    def tensor(self, name: str) -> str:
        """A buffer holding tensor `name`: the model's, or the adapter's in use."""
        tensor = self.tensors[name]
        adapter = name.endswith((LORA_A, LORA_B))
        spec = BufferSpec(name, tensor.nbytes, tensor=name, adapter=adapter)
        self.program.buffers.setdefault(name, spec)
        return name


class _DecoderCompiler(ProgramBuilder):
    """Emits the phases of a Llama-family decoder, mirroring models/llama.py.

    prefill runs `n_tokens` prompt tokens with matrix-matrix products; decode runs one token
    with matrix-vector products. Both append to the same KV caches at `position` and leave
    the last token's logits and best ids.
    """

    def __init__(
        self,
        model: GGUFModel,
        context_length: int,
        max_tokens: int,
        top_k: int,
        adapter_ranks: Mapping[str, int],
    ):
        # The adapter buffers' shapes and format: an adapter of zeros at the program's ranks.
        slots = adapter_tensors({}, adapter_ranks, model.config)
        super().__init__({**model.tensors, **slots}, max_tokens, adapter_ranks)
        self.config = model.config
        self.context_length = context_length
        self.top_k_count = top_k

    def compile(self) -> Program:
        self.program.context_length = self.context_length
        self.program.buffers["tokens"] = BufferSpec("tokens", self.max_tokens * 4)
        self.program.buffers["top_indices"] = BufferSpec("top_indices", self.top_k_count * 4)
        self.program.phases["prefill"] = self.phase(n_tokens="n_tokens", answer_token=0)
        self.program.phases["decode"] = self.phase(n_tokens=1, answer_token=1)
        self.program.phases["sample"] = self.sample_phase()
        return self.program

    def sample_phase(self) -> list[ProgramStep]:
        """Run after prefill or decode to choose a sampled token on the GPU: the repetition
        penalty over the logits for the answer's tokens so far (`history`), top_k again, and
        a draw among the best `candidates` with the CPU's `random` number; the choice goes
        to top_indices[0], where decode reads its token, and to history[n_history]. The
        penalty is applied in place: `logits` then holds the penalized logits."""
        self.steps = []
        history = "history"
        self.program.buffers[history] = BufferSpec(history, self.context_length * U32_BYTES)
        self.emit(
            "penalize_repetition",
            None,
            {"history": history, "logits": "logits"},
            {"n_history": "n_history", "penalty": "repetition_penalty"},
        )
        self.top_k()
        self.emit(
            "sample",
            None,
            {"indices": "top_indices", "values": "top_values", "chosen_history": history},
            {
                "k": "candidates",
                "temperature": "temperature",
                "top_p": "top_p",
                "random": "random",
                "n_history": "n_history",
            },
        )
        return self.steps

    def phase(self, n_tokens: int | str, answer_token: int) -> list[ProgramStep]:
        c = self.config
        self.steps, self.n_tokens = [], n_tokens
        x = self.rows("x", c.hidden_size)
        # Decode embeds the token the step before chose (top_k's best, or one the CPU wrote
        # over it), so steps can be submitted before their choices are read back.
        ids = "tokens" if self.batched else "top_indices"
        self.emit(
            "embedding",
            "token_embd.weight",
            {"ids": ids, "out": x},
            {"n_embd": c.hidden_size, "n_tokens": n_tokens, "scale": c.embedding_scale},
        )
        for block in range(c.num_layers):
            self.attention_block(block)
            self.feed_forward_block(block)
        last = x
        if self.batched:
            last = self.rows("x_last", c.hidden_size)
            self.copy_rows(x, last, c.hidden_size, n_rows=1, source_row=f"{n_tokens} - 1")
        output = "token_embd.weight" if c.tied_embeddings else "output.weight"
        self.n_tokens = 1  # from here on the last token only, in both phases: its logits
        normed = self.normed_input(last, "output_norm.weight", "h_last")
        self.linear(output, normed, self.floats("logits", c.vocab_size))
        self.bias_logits(answer_token)
        self.top_k()
        return self.steps

    def bias_logits(self, answer_token: int) -> None:
        """logits += logit_bias, then the copy-span bias, before every choice: the phase's own
        top_k (greedy picks) and the sample phase, which draws from the logits. The CPU
        writes `logit_bias` and `copy_source`; while they hold zeros the logits are left as
        the product wrote them. `answer_token` 1 (decode): the token this step embeds,
        top_indices[0], joins the answer's tail in `copy_tail`; 0 (prefill) empties it."""
        n = self.config.vocab_size
        bias = self.floats("logit_bias", n)
        self.emit("add_logit_bias", None, {"logits": "logits", "bias": bias}, {"n": n})
        source = self.words("copy_source", COPY_SOURCE_HEADER + MAX_COPY_SOURCE)
        self.emit(
            "copy_span_bias",
            None,
            {
                "source": source,
                "tail": self.words("copy_tail", 1 + MAX_SPAN_MATCH),
                "chosen": "top_indices",
                "logits": "logits",
            },
            {"answer_token": answer_token},
        )

    def top_k(self) -> None:
        """The logits' best ids into `top_indices` (values in `top_values`) in two steps: the
        best of each list of logits, many workgroups at once, then the best of those."""
        k, vocab_size = self.top_k_count, self.config.vocab_size
        n_candidates = top_k_list_count(vocab_size) * k
        candidates = {
            "candidate_values": self.floats("top_k_candidate_values", n_candidates),
            "candidate_indices": self.floats("top_k_candidate_indices", n_candidates),
        }
        uniforms: dict[str, float | str] = {"n": vocab_size, "k": k}
        self.emit("top_k_lists", None, {"x": "logits", **candidates}, uniforms)
        outputs = {"indices": "top_indices", "values": self.floats("top_values", k)}
        self.emit("top_k", None, candidates | outputs, uniforms)

    def attention_block(self, block: int) -> None:
        c = self.config
        prefix = f"blk.{block}."
        kv_size = c.num_kv_heads * c.head_dim
        q_size = c.num_heads * c.head_dim
        qkv = self.rows("qkv", q_size + 2 * kv_size)
        self.linear(
            prefix + "attn_qkv.weight",
            self.normed_input("x", prefix + "attn_norm.weight", "h"),
            qkv,
        )
        cache_floats = self.context_length * kv_size
        caches = {name: self.floats(f"{prefix}{name}_cache", cache_floats) for name in "kv"}
        self.rope_to_cache(block, qkv, self.rows("q", q_size), caches["k"], caches["v"])
        context = self.rows("context", c.num_heads * c.head_dim)
        self.emit(
            "attention",
            None,
            {"q": "q", "k": caches["k"], "v": caches["v"], "out": context},
            {
                "n_tokens": self.n_tokens,
                "n_heads": c.num_heads,
                "n_kv_heads": c.num_kv_heads,
                "head_dim": c.head_dim,
                "kv_len": f"position + {self.n_tokens}",
                "causal": 1,
                "causal_offset": "position",
                "window": c.window(block) or 0,  # 0: every earlier position
            },
        )
        self.residual(prefix + "attn_output.weight", context, prefix + "post_attention_norm")

    def rope_to_cache(self, block: int, qkv: str, q: str, k_cache: str, v_cache: str) -> None:
        """The rope of the block's q and k (with the architecture's frequency factors and
        head norms), q into `q` and k, v into the caches at `position`."""
        c = self.config
        kernel = "rope_to_cache_" + ("interleaved" if c.rope_interleaved else "neox")
        buffers = {"qkv": qkv, "q": q, "k_cache": k_cache, "v_cache": v_cache}
        uniforms: dict[str, float | str] = {
            "n_tokens": self.n_tokens,
            "n_heads": c.num_heads,
            "n_kv_heads": c.num_kv_heads,
            "head_dim": c.head_dim,
            "position": "position",
            "theta": c.block_rope_theta(block),
            "eps": c.rms_norm_eps,  # of the head norms
        }
        if c.scaled_rope:
            kernel += "_scaled"
            buffers["freq_factors"] = self.tensor(ROPE_FACTORS)
        if c.qk_norm:
            kernel += "_normed"
            for norm, binding in zip(HEAD_NORMS, ("q_norm", "k_norm"), strict=True):
                buffers[binding] = self.tensor(f"blk.{block}.{norm}.weight")
        self.emit(kernel, None, buffers, uniforms)

    def feed_forward_block(self, block: int) -> None:
        c = self.config
        prefix = f"blk.{block}."
        gate_up, size = prefix + "ffn_gate_up.weight", c.intermediate_size
        normed = self.normed_input("x", prefix + "ffn_norm.weight", "h")
        activated = self.rows("activated", size)
        gated = GATED_ACTIVATIONS[c.ffn_activation]
        if self.batched or gated != "swiglu":
            self.gate_then_activate(gate_up, normed, activated, gated)
        elif gate_up in self.adapter_ranks and not self.fuses_adapter(gate_up):
            with self.while_adapter(False):
                self.swiglu_product(gate_up, normed, activated)
            with self.while_adapter(True):  # the adapter adds to the rows between
                self.gate_then_activate(gate_up, normed, activated, gated)
        else:
            self.swiglu_product(gate_up, normed, activated)
        self.residual(prefix + "ffn_down.weight", activated, prefix + "post_ffw_norm")

    def gate_then_activate(
        self, gate_up: str, normed: ProductInput, activated: str, gated: str
    ) -> None:
        """The fused gate and up rows, then the gating in a step of its own."""
        size = self.config.intermediate_size
        self.linear(gate_up, normed, self.rows("gate_up", 2 * size))
        self.emit(
            gated,
            None,
            {"a": "gate_up", "out": activated},
            {"n": self.times(size), "row_len": size},
        )

    def swiglu_product(self, gate_up: str, normed: ProductInput, activated: str) -> None:
        """One product: the SwiGLU of the gate and up rows of each output."""
        self.product(
            f"matvec{normed.kernel_suffix}_swiglu",
            gate_up,
            {**normed.buffers, "out": activated},
            {
                "n_in": self.config.hidden_size,
                "n_out": self.config.intermediate_size,
                **normed.uniforms,
            },
        )

    def residual(self, weight: str, inputs: str, post_norm: str) -> None:
        """inputs W^T added to the residual stream `x`; gemma3 first normalizes it
        (weights `post_norm`)."""
        if not self.config.post_norms:
            self.linear(weight, inputs, "x", accumulate=True)
            return
        output = self.rows("block_output", self.config.hidden_size)
        self.linear(weight, inputs, output)
        self.emit(
            "rms_norm_accumulate",
            None,
            {"x": output, "weight": self.tensor(post_norm + ".weight"), "out": "x"},
            {
                "n_rows": self.n_tokens,
                "n": self.config.hidden_size,
                "eps": self.config.rms_norm_eps,
            },
        )

    def normed_input(self, x: str, norm: str, h: str) -> ProductInput:
        """The input rms_norm(x) of the products that follow: for one token, x normalized by
        the product itself (one dispatch fewer); for a batch `h`, which an rms_norm step
        emitted here writes."""
        if self.batched:
            self.rms_norm(x, norm, h, n_rows=self.n_tokens)
            return ProductInput({"x": h})
        buffers = {"x": x, "norm_weight": self.tensor(norm)}
        return ProductInput(buffers, {"eps": self.config.rms_norm_eps}, kernel_suffix="_norm")

    def rms_norm(self, x: str, weight: str, out: str, n_rows: int | str) -> None:
        n = self.config.hidden_size
        self.emit(
            "rms_norm",
            None,
            {"x": x, "weight": self.tensor(weight), "out": self.rows(out, n)},
            {"n_rows": n_rows, "n": n, "eps": self.config.rms_norm_eps},
        )

    def copy_rows(
        self,
        source: str,
        target: str,
        row_len: int,
        n_rows: int | str,
        source_row: int | str = 0,
        target_row: int | str = 0,
    ) -> None:
        self.emit(
            "copy_rows",
            None,
            {"from_rows": source, "to_rows": target},
            {
                "n_rows": n_rows,
                "row_len": row_len,
                "source_row": source_row,
                "target_row": target_row,
            },
        )


def compile_decoder(
    model: GGUFModel,
    context_length: int = 2048,
    max_prefill_tokens: int = 512,
    top_k: int = 1,
    adapter_ranks: Mapping[str, int] | None = None,
) -> Program:
    """Phases `prefill` (variables n_tokens <= max_prefill_tokens and position) and `decode`
    (variable position): each appends to the KV caches at `position` and leaves the last
    token's `logits` plus `logit_bias` (vocab_size f32 values the CPU writes; zeros until
    then, and kept across runs) plus the copy-span bias of `copy_source`
    (copy_source_words; zeros: none) and their top_k ids in `top_indices` (values in
    `top_values`). Prefill reads its token ids from `tokens`; decode reads its one token from
    `top_indices[0]`: the previous step's best, unless the CPU chose another and wrote it
    there, or phase `sample` did (variables n_history, repetition_penalty, candidates <=
    top_k, temperature, top_p and random, see _DecoderCompiler.sample_phase). With
    `adapter_ranks` (adapters.adapter_ranks), the products it names have adapter steps."""
    if not 1 <= top_k <= min(MAX_TOP_K, model.config.vocab_size):
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}")
    context_length = min(context_length, model.config.context_length)
    if context_length > ATTENTION_MAX_KEYS:
        raise ValueError(f"the attention kernel holds at most {ATTENTION_MAX_KEYS} positions")
    check_head_dim(model.config.head_dim)
    max_tokens = min(max_prefill_tokens, context_length)
    ranks = adapter_ranks or {}
    return _DecoderCompiler(model, context_length, max_tokens, top_k, ranks).compile()


def copy_source_words(spans: CopySpans) -> np.ndarray:
    """What the CPU writes to a decoder's `copy_source` buffer, whole: the number of source
    ids (at most MAX_COPY_SOURCE: the rest is cut, as add_copy_span_bias cuts it), the
    strength's f32 bits, then the ids, separators included, and zeros after them."""
    source = np.asarray(spans.source[:MAX_COPY_SOURCE], np.uint32)
    words = np.zeros(COPY_SOURCE_HEADER + MAX_COPY_SOURCE, np.uint32)
    words[0] = source.size
    words[1] = np.float32(spans.strength).view(np.uint32)
    words[COPY_SOURCE_HEADER : COPY_SOURCE_HEADER + source.size] = source
    return words


class ProgramRunner:
    """Executes a program on wgpu-py: buffers and bind groups made once; each run rewrites
    the uniforms that depend on the phase variables and submits the phase once."""

    def __init__(
        self, runner: KernelRunner, program: Program, tensors: Mapping[str, QuantTensor]
    ) -> None:
        self.runner = runner
        self.program = program
        self.buffers = {
            spec.name: runner.upload(tensors[spec.tensor].data)
            if spec.tensor and not spec.adapter
            else runner.empty(spec.nbytes)
            for spec in program.buffers.values()
        }
        self.adapter_on = False
        self._prepared: dict[tuple[str, bool], list[PreparedDispatch]] = {}

    def use_adapter(self, tensors: Mapping[str, QuantTensor] | None) -> None:
        """Run the adapter steps with these tensors (adapters.adapter_tensors at the
        program's ranks), or none of them (None): the base model alone."""
        if tensors is not None:
            for spec in self.program.buffers.values():
                if spec.adapter:
                    self.write(spec.name, tensors[spec.tensor].data)
        self.adapter_on = tensors is not None

    def destroy(self) -> None:
        """Free the program's GPU memory now (the device stays for other programs)."""
        for buffer in self.buffers.values():
            buffer.destroy()
        self._prepared.clear()

    def write(self, name: str, array: np.ndarray) -> None:
        self.runner.device.queue.write_buffer(self.buffers[name], 0, array.tobytes())

    def read(self, name: str, dtype: type = np.float32) -> np.ndarray:
        return self.runner.read(self.buffers[name], dtype)

    def run(self, phase: str, variables: Mapping[str, float]) -> None:
        self.runner.submit(self._prepare(phase, variables))

    def decode_greedy(self, position: int, steps: int) -> list[int]:
        """The greedy tokens of `steps` decode steps from `position`, the first embedding the
        token the last run chose. Each step embeds its predecessor's choice on the GPU, so
        all are submitted at once, each copying its choice to its own slot of one buffer
        that a single read brings back: the GPU never waits for the CPU."""
        chosen = self.runner.empty(steps * U32_BYTES)
        for step in range(steps):
            copy = BufferCopy(
                self.buffers["top_indices"], chosen, U32_BYTES, target_offset=step * U32_BYTES
            )
            self.runner.submit(self._prepare("decode", {"position": position + step}), [copy])
        return self.runner.read(chosen, np.uint32).tolist()

    def profile(self, phase: str, variables: Mapping[str, float]) -> dict[str, float]:
        """GPU seconds the phase spends in each kernel (for benchmarks)."""
        prepared = self._prepare(phase, variables)
        seconds: dict[str, float] = {}
        for dispatch, duration in zip(prepared, self.runner.profile(prepared), strict=True):
            seconds[dispatch.spec.name] = seconds.get(dispatch.spec.name, 0.0) + duration
        return seconds

    def steps(self, phase: str) -> list[ProgramStep]:
        """The steps of `phase` that run in the adapter state now."""
        return [
            step
            for step in self.program.phases[phase]
            if step.adapter is None or step.adapter == self.adapter_on
        ]

    def _prepare(self, phase: str, variables: Mapping[str, float]) -> list[PreparedDispatch]:
        steps = self.steps(phase)
        key = (phase, self.adapter_on)
        if key not in self._prepared:
            self._prepared[key] = self.runner.prepare(
                [self._dispatch(step, variables) for step in steps]
            )
        else:
            self._prepared[key] = [
                self.runner.update_uniforms(prepared, step_uniforms(step, variables))
                if _depends_on_variables(step)
                else prepared
                for step, prepared in zip(steps, self._prepared[key], strict=True)
            ]
        return self._prepared[key]

    def _dispatch(self, step: ProgramStep, variables: Mapping[str, float]) -> Dispatch:
        buffers = {binding: self.buffers[buffer] for binding, buffer in step.buffers.items()}
        return Dispatch(step.kernel, buffers, step_uniforms(step, variables), step.weight_format)


def _depends_on_variables(step: ProgramStep) -> bool:
    return any(isinstance(value, str) for value in step.uniforms.values())


def step_uniforms(step: ProgramStep, variables: Mapping[str, float]) -> dict[str, float]:
    return {
        name: evaluate(value, variables) if isinstance(value, str) else value
        for name, value in step.uniforms.items()
    }
