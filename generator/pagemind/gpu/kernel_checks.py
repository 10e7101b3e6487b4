"""Each kernel against numpy on random inputs, at the sizes a program dispatches it with.

A program's steps, with its phase variables set to small check values, give the cases: one
per distinct (kernel, weight format, uniforms), so a 30-layer model checks each shape once.
The numpy side is pagemind.models.layers (the reference models' own building blocks) on the
weights as gguf-py, llama.cpp's code, dequantizes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from pagemind.gpu.compare import relative_error
from pagemind.gpu.kernels import KERNELS, top_k_list_count
from pagemind.gpu.program import Program, copy_source_words, step_uniforms
from pagemind.gpu.runner import KernelRunner
from pagemind.models import layers
from pagemind.models.adapters import ADAPTER_FORMAT
from pagemind.models.generate import (
    ANSWER_START,
    MAX_SPAN_MATCH,
    SPAN_SEPARATOR,
    CopySpans,
    Sampler,
    add_copy_span_bias,
    add_logit_bias,
    draw,
    penalize_repetition,
)
from pagemind.models.tensors import QuantTensor

# Relative to the output's scale: f32 sums in another order than numpy's.
TOLERANCE = 1e-5
# sin/cos of large angles in f32 (GPU) against float64 (numpy).
ROPE_TOLERANCE = 2e-4
# `f16` variants (matmul): x and weights rounded to f16, each 32-value slice of a dot product
# summed in f16. Measured on lavapipe: at most 1e-3 at SmolLM2 and odd shapes, every format.
F16_TOLERANCE = 3e-3
EMBEDDING_ROWS = 64  # rows of the random table an embedding case looks up
# The adapter rank of `_lora` matvec cases: no power of two, as a fused Q/K/V adapter's.
LORA_CHECK_RANK = 24
NO_CANDIDATE = 0xFFFFFFFF  # NONE in top_k.wgsl: a top_k_lists entry past a short list
# copy_span_bias cases: a source of few distinct ids, so that tails of every length match,
# often at several places, and longer than one pass of the workgroup's 256 threads.
COPY_SOURCE_LENGTH = 700
COPY_ALPHABET = 4
COPY_VOCAB = 300

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class KernelCase:
    kernel: str
    weight_format: str | None
    uniforms: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        values = " ".join(f"{name}={value:g}" for name, value in self.uniforms)
        return f"{self.kernel}{':' + self.weight_format if self.weight_format else ''} {values}"

    def value(self, name: str) -> int:
        return int(dict(self.uniforms)[name])


def kernel_cases(
    program: Program, variables: Mapping[str, Mapping[str, float]]
) -> list[KernelCase]:
    """The distinct dispatches of every phase, its variables set to `variables[phase]`."""
    cases: dict[KernelCase, None] = {}
    for phase, steps in program.phases.items():
        for step in steps:
            uniforms = step_uniforms(step, variables[phase])
            case = KernelCase(step.kernel, step.weight_format, tuple(uniforms.items()))
            cases.setdefault(case)
    return list(cases)


def check_kernel(runner: KernelRunner, case: KernelCase, rng: np.random.Generator) -> float:
    """The kernel's largest error on random inputs, relative to the output's scale (integer
    outputs must match exactly: 0 or infinity)."""
    arrays, expected = _CASES[case.kernel](case, rng)
    got = runner.run_one(case.kernel, arrays, dict(case.uniforms), case.weight_format)
    errors = [
        relative_error(got[name], value)
        if value.dtype.kind == "f"
        else (0.0 if np.array_equal(got[name], value) else math.inf)
        for name, value in expected.items()
    ]
    return max(errors)


def tolerance(runner: KernelRunner, kernel: str) -> float:
    """The largest error allowed for `kernel` in the variant `runner` takes."""
    if kernel.startswith("rope"):
        return ROPE_TOLERANCE
    f16 = KERNELS[kernel].f16
    return F16_TOLERANCE if f16 is not None and runner.variant(kernel) is f16 else TOLERANCE


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _matrix(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n_in, n_out = case.value("n_in"), case.value("n_out")
    lora = case.kernel.endswith("_lora")  # plus an adapter's B (A x), at LORA_CHECK_RANK
    kernel = case.kernel.removesuffix("_lora")
    swiglu = kernel.endswith("swiglu")  # gate rows, then up rows
    weight_rows = 2 * n_out if swiglu else n_out
    weights = QuantTensor.from_array("w", _normal(rng, weight_rows, n_in), case.weight_format)
    batch = (case.value("n_tokens"),) if case.kernel.startswith("matmul") else ()
    x, norm_weight = _normal(rng, *batch, n_in), _normal(rng, n_in)
    if swiglu:  # gate values of order 1, where silu bends (and exp does not overflow)
        x /= np.sqrt(n_in)
        norm_weight /= np.sqrt(n_in)
    arrays = {"weights": weights.data, "x": x, "out": _normal(rng, *batch, n_out)}
    if case.kernel.startswith("matvec_norm"):  # the product of rms_norm(x)
        arrays["norm_weight"] = norm_weight
        x = layers.rms_norm(x, norm_weight, dict(case.uniforms)["eps"])
    matrix = weights.dequantize()
    if lora:  # B A of the size of W
        a = _normal(rng, LORA_CHECK_RANK, n_in)
        b = _normal(rng, weight_rows, LORA_CHECK_RANK) / np.sqrt(LORA_CHECK_RANK)
        a, b = (QuantTensor.from_array(n, v, ADAPTER_FORMAT) for n, v in (("a", a), ("b", b)))
        arrays |= {"lora_a": a.data, "lora_b": b.data}
        matrix = matrix + b.dequantize() @ a.dequantize()
    product = x @ matrix.T
    if kernel.endswith("accumulate"):
        expected = arrays["out"] + product
    elif swiglu:
        expected = layers.swiglu(*np.split(product, 2, axis=-1))
    else:
        expected = product
    return arrays, {"out": expected}


def _embedding(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n_embd, n_tokens = case.value("n_embd"), case.value("n_tokens")
    table = QuantTensor.from_array("t", _normal(rng, EMBEDDING_ROWS, n_embd), case.weight_format)
    ids = rng.integers(0, EMBEDDING_ROWS, n_tokens).astype(np.uint32)
    out = np.zeros((n_tokens, n_embd), np.float32)
    expected = table.dequantize()[ids] * np.float32(dict(case.uniforms).get("scale", 1.0))
    return {"weights": table.data, "ids": ids, "out": out}, {"out": expected}


def _norm(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n_rows, n, eps = case.value("n_rows"), case.value("n"), dict(case.uniforms)["eps"]
    x = _normal(rng, n_rows, n) * 3 + 1
    weight, bias = _normal(rng, n), _normal(rng, n)
    out = _normal(rng, n_rows, n)  # what rms_norm_accumulate adds to
    expected = {
        "rms_norm": lambda: layers.rms_norm(x, weight, eps),
        "rms_norm_accumulate": lambda: out + layers.rms_norm(x, weight, eps),
        "layer_norm": lambda: layers.layer_norm(x, weight, bias, eps),
        "l2_normalize": lambda: layers.l2_normalize(x),
    }[case.kernel]()
    arrays = {"x": x, "weight": weight, "bias": bias, "out": out.copy()}
    names = {binding.name for binding in KERNELS[case.kernel].bindings}
    return {name: array for name, array in arrays.items() if name in names}, {"out": expected}


def _softmax(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    x = _normal(rng, case.value("n_rows"), case.value("n")) * 10
    return {"x": x, "out": np.zeros_like(x)}, {"out": layers.softmax(x)}


def _rope_to_cache(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    """Each variant: `_scaled` with random frequency divisors, `_normed` with random head
    norm weights."""
    n_tokens, position, head_dim = (case.value(n) for n in ("n_tokens", "position", "head_dim"))
    heads, kv_heads = case.value("n_heads"), case.value("n_kv_heads")
    qkv = _normal(rng, n_tokens, (heads + 2 * kv_heads) * head_dim)
    q, k, v = np.split(qkv.reshape(n_tokens, -1, head_dim), [heads, heads + kv_heads], axis=1)
    caches = {name: _normal(rng, position + n_tokens + 1, kv_heads, head_dim) for name in "kv"}
    arrays = {"qkv": qkv, "q": np.zeros_like(q), "k_cache": caches["k"], "v_cache": caches["v"]}
    factors = None
    if case.kernel.endswith("_scaled"):
        factors = arrays["freq_factors"] = rng.uniform(1, 8, head_dim // 2).astype(np.float32)
    if case.kernel.endswith("_normed"):
        arrays["q_norm"], arrays["k_norm"] = _normal(rng, head_dim), _normal(rng, head_dim)
        eps = dict(case.uniforms)["eps"]
        q, k = layers.rms_norm(q, arrays["q_norm"], eps), layers.rms_norm(k, arrays["k_norm"], eps)
    positions = np.arange(n_tokens) + position
    theta, interleaved = dict(case.uniforms)["theta"], "interleaved" in case.kernel
    k_cache, v_cache = caches["k"].copy(), caches["v"].copy()
    k_cache[position : position + n_tokens] = layers.rope(k, positions, theta, interleaved, factors)
    v_cache[position : position + n_tokens] = v
    expected = {"q": layers.rope(q, positions, theta, interleaved, factors), "k_cache": k_cache}
    return arrays, expected | {"v_cache": v_cache}


def _attention(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n_tokens, head_dim = case.value("n_tokens"), case.value("head_dim")
    q = _normal(rng, n_tokens, case.value("n_heads"), head_dim)
    k, v = (_normal(rng, case.value("kv_len"), case.value("n_kv_heads"), head_dim) for _ in "kv")
    offset = case.value("causal_offset") if case.value("causal") else None
    window = int(dict(case.uniforms).get("window", 0)) or None
    expected = layers.attention(q, k, v, causal_offset=offset, window=window)
    return {"q": q, "k": k, "v": v, "out": np.zeros_like(q)}, {"out": expected}


def _attention_packed(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    """Two texts packed end to end; each query sees its own text."""
    n_tokens, head_dim, heads = (
        case.value("n_tokens"),
        case.value("head_dim"),
        case.value("n_heads"),
    )
    q, k, v = (_normal(rng, n_tokens, heads, head_dim) for _ in "qkv")
    lengths = [n_tokens - n_tokens // 2, n_tokens // 2]
    starts = [0, lengths[0]]
    spans = np.repeat(np.array([starts, lengths]).T, lengths, axis=0).astype(np.uint32)
    expected = np.concatenate(
        [
            layers.attention(q[s : s + n], k[s : s + n], v[s : s + n], causal_offset=None)
            for s, n in zip(starts, lengths, strict=True)
        ]
    )
    arrays = {"q": q, "k": k, "v": v, "spans": spans.reshape(-1), "out": np.zeros_like(q)}
    return arrays, {"out": expected}


def _elementwise(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n, row_len = case.value("n"), case.value("row_len")
    if case.kernel in ("swiglu", "geglu"):  # rows of gate then up values, row_len each
        gate_up = _normal(rng, n // row_len, 2 * row_len) * 4
        gated = layers.swiglu if case.kernel == "swiglu" else layers.geglu
        expected = gated(*np.split(gate_up, 2, axis=-1)).reshape(-1)
        return {"a": gate_up, "out": np.zeros(n, np.float32)}, {"out": expected}
    a, b = _normal(rng, n) * 4, _normal(rng, n)
    expected = {
        "gelu": lambda: layers.gelu(a),
        "add": lambda: a + b,
        "add_bias": lambda: a + np.resize(b[:row_len], n),
    }[case.kernel]()
    arrays = {"a": a, "out": np.zeros_like(a)}
    if case.kernel != "gelu":
        arrays["b"] = b[:row_len] if case.kernel == "add_bias" else b
    return arrays, {"out": expected}


def _mean_pool(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    hidden = _normal(rng, case.value("n_tokens"), case.value("n"))
    mask = (rng.random(len(hidden)) < 0.7).astype(np.float32)
    expected = layers.mean_pool(hidden[None], mask[None])[0]
    arrays = {"hidden": hidden, "mask": mask, "out": np.zeros(hidden.shape[1], np.float32)}
    return arrays, {"out": expected}


def _pool_sequences(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    lengths = rng.integers(1, 6, case.value("n_sequences"))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    hidden = _normal(rng, int(lengths.sum()), case.value("n"))
    first_only = case.value("first_token_only")
    expected = np.stack(
        [
            hidden[s] if first_only else hidden[s : s + n].mean(axis=0)
            for s, n in zip(starts, lengths, strict=True)
        ]
    )
    spans = np.stack([starts, lengths], axis=1).astype(np.uint32).reshape(-1)
    return {"hidden": hidden, "spans": spans, "out": np.zeros_like(expected)}, {"out": expected}


def _copy_rows(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n_rows, row_len = case.value("n_rows"), case.value("row_len")
    source, target = case.value("source_row"), case.value("target_row")
    from_rows = _normal(rng, source + n_rows, row_len)
    to_rows = _normal(rng, target + n_rows, row_len)
    expected = to_rows.copy()
    expected[target:] = from_rows[source:]
    return {"from_rows": from_rows, "to_rows": to_rows}, {"to_rows": expected}


def _top_k_lists(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n, k = case.value("n"), case.value("k")
    x = _tied_logits(rng, n)
    values, indices = _list_candidates(x, k)
    arrays = {
        "x": x,
        "candidate_values": np.zeros_like(values),
        "candidate_indices": np.zeros_like(indices),
    }
    return arrays, {"candidate_values": values, "candidate_indices": indices}


def _top_k(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n, k = case.value("n"), case.value("k")
    x = _tied_logits(rng, n)
    candidate_values, candidate_indices = _list_candidates(x, k)
    values, indices = _best(x, np.arange(n, dtype=np.uint32), k)
    arrays = {
        "candidate_values": candidate_values,
        "candidate_indices": candidate_indices,
        "indices": np.zeros(k, np.uint32),
        "values": np.zeros(k, np.float32),
    }
    return arrays, {"indices": indices, "values": values}


def _tied_logits(rng: np.random.Generator, n: int) -> np.ndarray:
    """Logits of whole values, so the best ones tie often."""
    return np.round(_normal(rng, n) * 4)


def _list_candidates(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top_k_lists' output: the k best of each list (list l: values l, l + L, ... of L
    lists), list after list."""
    n_lists = top_k_list_count(x.size)
    indices = np.arange(x.size, dtype=np.uint32)
    lists = [_best(x[first::n_lists], indices[first::n_lists], k) for first in range(n_lists)]
    values, indices = zip(*lists, strict=True)
    return np.concatenate(values), np.concatenate(indices)


def _best(values: np.ndarray, indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (value, index) pairs, best first: larger value, then lower index; past the
    pairs, value 0 and index NO_CANDIDATE."""
    order = np.lexsort((indices, -values))[:k]
    missing = k - order.size
    return (
        np.concatenate([values[order], np.zeros(missing, np.float32)]),
        np.concatenate([indices[order], np.full(missing, NO_CANDIDATE)]).astype(np.uint32),
    )


def _penalize_repetition(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n_history = case.value("n_history")
    logits = _normal(rng, 4 * n_history + 8)
    # Repeats included: a repeated token is penalized once; the entry after n_history is not.
    history = rng.integers(0, logits.size, n_history + 1).astype(np.uint32)
    penalty = dict(case.uniforms)["penalty"]
    expected = penalize_repetition(logits, history[:n_history].tolist(), np.float32(penalty))
    return {"history": history, "logits": logits}, {"logits": expected}


def _add_logit_bias(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    n = case.value("n")
    logits = _normal(rng, n) * 4
    # Sparse, as the bias toward a few tokens is: most logits must come back untouched.
    bias = np.where(rng.random(n) < 0.1, _normal(rng, n) * 8, 0).astype(np.float32)
    return {"logits": logits, "bias": bias}, {"logits": add_logit_bias(logits, bias)}


def copy_span_bias_case(
    spans: CopySpans, tail: list[int], chosen: int, answer_token: int, logits: np.ndarray
) -> tuple[Arrays, Arrays]:
    """copy_span_bias's inputs (`tail`: what the buffer holds, the answer's last tokens,
    after ANSWER_START while the answer is short; `chosen`: the token a decode embeds) and
    what it must leave: ANSWER_START alone in the tail (prefill, answer_token 0) or `chosen`
    appended, and the logits as add_copy_span_bias biases them after that tail."""
    kept = [*tail, chosen][-MAX_SPAN_MATCH:] if answer_token else [ANSWER_START]
    answer = [token for token in kept if token != ANSWER_START]
    words = np.zeros(1 + MAX_SPAN_MATCH, np.uint32)
    words[0], words[1 : 1 + len(tail)] = len(tail), tail
    expected_words = words.copy()  # the kernel writes the length and the tokens it keeps
    expected_words[0], expected_words[1 : 1 + len(kept)] = len(kept), kept
    arrays = {
        "source": copy_source_words(spans),
        "tail": words,
        "chosen": np.array([chosen], np.uint32),
        "logits": logits,
    }
    expected = {"tail": expected_words, "logits": add_copy_span_bias(logits, spans, answer)}
    return arrays, expected


def _copy_span_bias(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    """Texts of a few ids (repeats everywhere, so a longer match must beat many shorter ones
    and tokens follow it at several places) between separators, some of them openings; a
    tail whose decode push ends in a run of the source: a full one that drops its oldest
    token, or one of an answer that has begun an opening."""
    alphabet = rng.choice(COPY_VOCAB, COPY_ALPHABET, replace=False)
    source = rng.choice(alphabet, COPY_SOURCE_LENGTH).tolist()
    for end in rng.choice(COPY_SOURCE_LENGTH - 1, COPY_SOURCE_LENGTH // 20, replace=False):
        source[end] = SPAN_SEPARATOR
        if rng.random() < 0.3:
            source[end + 1] = ANSWER_START
    starts = [
        start
        for start in range(1, COPY_SOURCE_LENGTH - MAX_SPAN_MATCH)
        if max(source[start : start + MAX_SPAN_MATCH + 1]) < ANSWER_START
    ]
    openings = [start for start in starts if source[start - 1] == ANSWER_START]
    if openings and rng.random() < 0.5:  # the answer has begun an opening
        start, begun = int(rng.choice(openings)), int(rng.integers(MAX_SPAN_MATCH))
        run = source[start : start + begun + 1]
        tail = [ANSWER_START, *run[:-1]]
    else:
        start = int(rng.choice(starts))
        run = source[start : start + MAX_SPAN_MATCH]
        tail = [int(rng.integers(COPY_VOCAB)), *run[:-1]]
    spans = CopySpans(source, float(rng.uniform(1, 8)))
    logits = _normal(rng, COPY_VOCAB) * 4
    return copy_span_bias_case(spans, tail, run[-1], case.value("answer_token"), logits)


def _sample(case: KernelCase, rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    uniforms = dict(case.uniforms)
    k, n_history = case.value("k"), case.value("n_history")
    values = np.sort(_normal(rng, k))[::-1].copy()
    indices = rng.permutation(1000)[:k].astype(np.uint32)
    sampler = Sampler(temperature=uniforms["temperature"], top_p=uniforms["top_p"])
    position = draw(values, sampler, uniforms["random"]) if sampler.temperature > 0 else 0
    chosen = indices[position]
    history = rng.integers(0, 1000, n_history + 1).astype(np.uint32)
    expected_history = history.copy()
    expected_history[n_history] = chosen
    expected_indices = indices.copy()
    expected_indices[0] = chosen
    arrays = {"indices": indices, "values": values, "chosen_history": history}
    return arrays, {"indices": expected_indices, "chosen_history": expected_history}


_ADAPTED_MATVECS = ("matvec", "matvec_accumulate", "matvec_norm", "matvec_norm_swiglu")
_CASES: dict[str, Callable[[KernelCase, np.random.Generator], tuple[Arrays, Arrays]]] = {
    "matvec": _matrix,
    "matvec_accumulate": _matrix,
    "matvec_swiglu": _matrix,
    "matvec_norm": _matrix,
    "matvec_norm_swiglu": _matrix,
    **{f"{kernel}_lora": _matrix for kernel in _ADAPTED_MATVECS},
    "matmul": _matrix,
    "matmul_accumulate": _matrix,
    "embedding": _embedding,
    "rms_norm": _norm,
    "rms_norm_accumulate": _norm,
    "layer_norm": _norm,
    "l2_normalize": _norm,
    "softmax": _softmax,
    **{
        f"rope_to_cache_{mode}{variant}": _rope_to_cache
        for mode in ("interleaved", "neox")
        for variant in ("", "_scaled", "_normed")
    },
    "attention": _attention,
    "attention_packed": _attention_packed,
    "swiglu": _elementwise,
    "geglu": _elementwise,
    "gelu": _elementwise,
    "add": _elementwise,
    "add_bias": _elementwise,
    "mean_pool": _mean_pool,
    "pool_sequences": _pool_sequences,
    "copy_rows": _copy_rows,
    "top_k_lists": _top_k_lists,
    "top_k": _top_k,
    "add_logit_bias": _add_logit_bias,
    "copy_span_bias": _copy_span_bias,
    "penalize_repetition": _penalize_repetition,
    "sample": _sample,
}
