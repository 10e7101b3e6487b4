"""Kernels without weights against the numpy reference ops of pagemind.models.layers; the
plain random-input cases are the product's own kernel checks (pagemind.gpu.kernel_checks),
the rest probe edge cases (large offsets, ties, empty masks)."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.compare import relative_error
from pagemind.gpu.kernel_checks import KernelCase, check_kernel, copy_span_bias_case
from pagemind.gpu.runner import top_k_dispatches
from pagemind.models import layers
from pagemind.models.generate import (
    ANSWER_START,
    MAX_COPY_SOURCE,
    MAX_SPAN_MATCH,
    SPAN_SEPARATOR,
    CopySpans,
)
from pagemind.resources import resource_dir

pytestmark = pytest.mark.gpu

TOLERANCE = 1e-5  # f32 paths, relative to the output's scale
# sin/cos of angles up to ~2000 rad in f32 (GPU) vs float64 (numpy) differ by ~1e-4 rad.
ROPE_TOLERANCE = 2e-4
# The erf polynomial (Abramowitz & Stegun 7.1.26) errs by < 1.5e-7, so gelu by < 0.75e-7 |x|,
# plus f32 rounding of values of size |x|.
GELU_TOLERANCE = 3e-7


def zeros_like(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x, dtype=np.float32)


@pytest.mark.parametrize(("n_rows", "n"), [(1, 576), (37, 576), (3, 1000)])
def test_rms_norm(variant_runner, rng, n_rows, n):
    case = KernelCase("rms_norm", None, (("n_rows", n_rows), ("n", n), ("eps", 1e-5)))
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize(("n_rows", "n"), [(1, 384), (64, 384), (5, 300)])
def test_layer_norm_with_an_offset_mean(variant_runner, rng, n_rows, n):
    x = rng.standard_normal((n_rows, n), dtype=np.float32) + 50  # cancellation trap
    weight, bias = rng.standard_normal((2, n), dtype=np.float32)
    result = variant_runner.run_one(
        "layer_norm",
        {"x": x, "weight": weight, "bias": bias, "out": zeros_like(x)},
        {"n_rows": n_rows, "n": n, "eps": 1e-12},
    )
    assert relative_error(result["out"], layers.layer_norm(x, weight, bias, 1e-12)) < TOLERANCE


def test_l2_normalize_rows(variant_runner, rng):
    x = rng.standard_normal((4, 384), dtype=np.float32)
    uniforms = {"n_rows": 4, "n": 384, "eps": 1e-12}
    result = variant_runner.run_one("l2_normalize", {"x": x, "out": zeros_like(x)}, uniforms)
    assert relative_error(result["out"], layers.l2_normalize(x)) < TOLERANCE


@pytest.mark.parametrize(("n_rows", "n"), [(9, 37), (1, 49152)])
def test_softmax_is_stable_for_large_inputs(runner, rng, n_rows, n):
    x = rng.standard_normal((n_rows, n), dtype=np.float32) * 10 + 1000  # exp(1000) overflows
    result = runner.run_one("softmax", {"x": x, "out": zeros_like(x)}, {"n_rows": n_rows, "n": n})
    assert relative_error(result["out"], layers.softmax(x)) < TOLERANCE


@pytest.mark.parametrize(
    ("interleaved", "n_heads", "theta", "position"),
    [(True, 9, 100000.0, 0), (True, 3, 100000.0, 2000), (False, 9, 10000.0, 5)],
)
def test_rope_to_cache(runner, rng, interleaved, n_heads, theta, position):
    """From the fused qkv rows: q rotated into `q`; k rotated and v copied into their cache
    rows from `position`."""
    kernel = "rope_to_cache_interleaved" if interleaved else "rope_to_cache_neox"
    uniforms = (("n_tokens", 37), ("n_heads", n_heads), ("n_kv_heads", 3), ("head_dim", 64))
    uniforms += (("position", position), ("theta", theta))
    assert check_kernel(runner, KernelCase(kernel, None, uniforms), rng) < ROPE_TOLERANCE


def attention_error(runner, rng, n_tokens, heads, kv_heads, head_dim, kv_len, causal_offset):
    """causal_offset None: bidirectional (the embedder's attention)."""
    uniforms = (("n_tokens", n_tokens), ("n_heads", heads), ("n_kv_heads", kv_heads))
    uniforms += (("head_dim", head_dim), ("kv_len", kv_len))
    uniforms += (("causal", int(causal_offset is not None)), ("causal_offset", causal_offset or 0))
    return check_kernel(runner, KernelCase("attention", None, uniforms), rng)


@pytest.mark.parametrize(("n_tokens", "kv_len"), [(1, 1), (1, 300), (37, 37), (5, 42)])
def test_grouped_query_causal_attention(variant_runner, rng, n_tokens, kv_len):
    """SmolLM2 heads (9 query heads over 3 KV heads of 64): decode over a cache, and prefill
    (kv_len > n_tokens continues after cached positions)."""
    offset = kv_len - n_tokens
    assert attention_error(variant_runner, rng, n_tokens, 9, 3, 64, kv_len, offset) < TOLERANCE


def test_bidirectional_attention_of_the_embedder(variant_runner, rng):
    # MiniLM: 12 heads of 32
    error = attention_error(variant_runner, rng, 19, 12, 12, 32, 19, causal_offset=None)
    assert error < TOLERANCE


def test_attention_with_a_head_dim_that_does_not_divide_the_workgroup(variant_runner, rng):
    assert attention_error(variant_runner, rng, 3, 4, 2, 80, 10, causal_offset=7) < TOLERANCE


@pytest.mark.parametrize(("n_tokens", "row_len"), [(1, 1536), (1, 1000), (37, 1536)])
def test_swiglu_of_fused_gate_and_up_rows(runner, rng, n_tokens, row_len):
    case = KernelCase("swiglu", None, (("n", n_tokens * row_len), ("row_len", row_len)))
    assert check_kernel(runner, case, rng) < TOLERANCE


def test_gelu_over_its_whole_range(runner):
    x = np.linspace(-12, 12, 64 * 1536 + 5, dtype=np.float32)
    result = runner.run_one(
        "gelu", {"a": x, "out": zeros_like(x)}, {"n": x.size, "row_len": x.size}
    )
    error = np.abs(result["out"] - layers.gelu(x))
    assert np.all(error <= GELU_TOLERANCE * np.maximum(np.abs(x), 1.0))


def test_add_and_add_bias(runner, rng):
    a = rng.standard_normal((7, 384), dtype=np.float32)
    b = rng.standard_normal((7, 384), dtype=np.float32)
    uniforms = {"n": a.size, "row_len": 384}
    added = runner.run_one("add", {"a": a, "b": b, "out": zeros_like(a)}, uniforms)
    np.testing.assert_array_equal(added["out"], a + b)
    biased = runner.run_one("add_bias", {"a": a, "b": b[0], "out": zeros_like(a)}, uniforms)
    np.testing.assert_array_equal(biased["out"], a + b[0])


@pytest.mark.parametrize("n", [49152, 1000, 50])
def test_add_logit_bias_adds_a_sparse_bias_as_the_reference(runner, rng, n):
    assert check_kernel(runner, KernelCase("add_logit_bias", None, (("n", n),)), rng) == 0


def test_add_logit_bias_leaves_unbiased_logits_bit_for_bit(runner, rng):
    """Where the bias is 0 the logit is not written (-0.0 stays -0.0); past n, nothing is."""
    logits = rng.standard_normal(1000, dtype=np.float32)
    logits[:2] = [-0.0, 0.0]
    bias = np.zeros_like(logits)
    bias[[1, 5, 900]] = [3.0, -2.5, 1000.0]
    bias[995] = 7.0  # past n
    result = runner.run_one("add_logit_bias", {"logits": logits, "bias": bias}, {"n": 990})
    expected = logits.copy()
    expected[[1, 5, 900]] += bias[[1, 5, 900]]
    np.testing.assert_array_equal(result["logits"].view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("answer_token", [0, 1])
def test_copy_span_bias_on_random_texts_as_the_reference(runner, answer_token):
    case = KernelCase("copy_span_bias", None, (("answer_token", answer_token),))
    for seed in range(3):
        assert check_kernel(runner, case, np.random.default_rng(seed)) == 0


END = SPAN_SEPARATOR  # after each text of a copy source
START = ANSWER_START  # before each opening


def test_copy_span_bias_limits_are_the_references():
    source = (resource_dir("shaders") / "copy_span_bias.wgsl").read_text()
    assert f"const MAX_MATCH: u32 = {MAX_SPAN_MATCH}u;" in source
    assert f"const MAX_SOURCE: u32 = {MAX_COPY_SOURCE}u;" in source
    assert f"const SEPARATOR: u32 = {SPAN_SEPARATOR:#x}u;" in source
    assert f"const ANSWER_START: u32 = {ANSWER_START:#x}u;" in source


@pytest.mark.parametrize(
    ("source", "tail", "chosen", "answer_token", "biased"),
    [
        # prefill: the answer starts, its tail holds ANSWER_START alone; no opening, no bias
        ([5, 6, 7, 8], [5, 6], 7, 0, []),
        # prefill: each opening's first token is added, a marker never is
        ([START, 5, 6, END, START, 7, END, START, END, 4, 8], [5, 6], 7, 0, [5, 7]),
        # an answer that has begun an opening matches it longer than the same ids elsewhere
        ([2, 3, 9, END, START, 2, 3, 8, END], [START, 2], 3, 1, [8]),
        # at its MAX_SPAN_MATCH-th token the answer's start leaves the tail: both continue
        ([1, 2, 3, 4, 9, END, START, 1, 2, 3, 4, 8, END], [START, 1, 2, 3], 4, 1, [8, 9]),
        # a full tail drops its oldest token: [2, 3, 4, 5] matches, only 6 follows it
        ([9, 2, 3, 4, 5, 6, 1, 5, 7], [1, 2, 3, 4], 5, 1, [6]),
        # nothing follows a text's last id, and a match does not run across a separator
        ([3, 4, END, 4, 8, END, 9], [3], 4, 1, [8]),
        # [1, 2, 3] beats [2, 3]: 9 follows, not 8
        ([1, 2, 3, 9, END, 2, 3, 8, END, 3, 7], [1, 2], 3, 1, [9]),
        # 5 follows [4] four times and is added once, 6 once; positions 256 apart are one
        # thread's
        ([4, 5, 4, 5, *[9] * 252, 4, 5, 4, 6, END], [], 4, 1, [5, 6]),
        # the answer's tokens occur nowhere
        ([1, 2, 3], [7], 8, 1, []),
        # no source (n_source 0)
        ([], [1, 2, 3], 4, 1, []),
    ],
    ids=[
        "prefill",
        "prefill-openings",
        "opening-begun",
        "opening-left",
        "full-tail",
        "separators",
        "longest",
        "once",
        "no-match",
        "no-source",
    ],
)
def test_copy_span_bias_cases(runner, rng, source, tail, chosen, answer_token, biased):
    """The tail as the kernel leaves it, and the logits bit for bit as the reference's:
    -0.0 stays -0.0 where nothing is added."""
    logits = rng.standard_normal(16, dtype=np.float32)
    logits[0] = -0.0
    arrays, expected = copy_span_bias_case(
        CopySpans(source, 2.5), tail, chosen, answer_token, logits
    )
    result = runner.run_one("copy_span_bias", arrays, {"answer_token": answer_token})
    np.testing.assert_array_equal(result["tail"], expected["tail"])
    np.testing.assert_array_equal(
        result["logits"].view(np.uint32), expected["logits"].view(np.uint32)
    )
    np.testing.assert_array_equal(result["logits"] - logits, np.isin(range(16), biased) * 2.5)


@pytest.mark.parametrize("mask", [[1] * 11, [1] * 7 + [0] * 4, [0] * 11])
def test_mean_pool_over_masked_tokens(runner, rng, mask):
    hidden = rng.standard_normal((11, 384), dtype=np.float32)
    mask = np.array(mask, np.float32)
    result = runner.run_one(
        "mean_pool",
        {"hidden": hidden, "mask": mask, "out": np.zeros(384, np.float32)},
        {"n_tokens": 11, "n": 384},
    )
    expected = layers.mean_pool(hidden[None], mask[None])[0]
    np.testing.assert_allclose(result["out"], expected, rtol=1e-5, atol=1e-6)


def test_copy_rows_between_row_offsets(runner, rng):
    target = rng.standard_normal((10, 192), dtype=np.float32)
    source = rng.standard_normal((5, 192), dtype=np.float32)
    result = runner.run_one(
        "copy_rows",
        {"from_rows": source, "to_rows": target.copy()},
        {"n_rows": 3, "row_len": 192, "source_row": 2, "target_row": 4},
    )
    expected = target.copy()
    expected[4:7] = source[2:5]
    np.testing.assert_array_equal(result["to_rows"], expected)


def run_top_k(runner, x, k):
    stages, buffers = top_k_dispatches(runner, x, k)
    runner.run(stages)
    return runner.read(buffers["indices"], np.uint32), runner.read(buffers["values"])


@pytest.mark.parametrize("kernel", ["top_k_lists", "top_k"])
@pytest.mark.parametrize(
    ("n", "k"), [(49152, 1), (49152, 40), (49152, 64), (3000, 40), (2050, 64), (50, 64)]
)
def test_top_k_stages_rank_tied_logits_as_numpy(variant_runner, rng, kernel, n, k):
    """Whole-valued logits tie often; 3000 and 2050 values make lists shorter than the longest
    (of unequal lengths for 2050); 50 a list shorter than k."""
    case = KernelCase(kernel, None, (("n", n), ("k", k)))
    assert check_kernel(variant_runner, case, rng) == 0


@pytest.mark.parametrize(("n", "k"), [(49152, 1), (49152, 64), (1000, 40)])
def test_top_k_picks_the_largest_logits_best_first(variant_runner, rng, n, k):
    logits = rng.standard_normal(n, dtype=np.float32) * 5
    indices, values = run_top_k(variant_runner, logits, k)
    expected = np.argsort(-logits, kind="stable")[:k]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(values, logits[expected])


def test_top_k_breaks_ties_by_the_lower_index(variant_runner):
    logits = np.zeros(5000, np.float32)
    logits[[4000, 7, 2500, 300]] = 3.0
    logits[[4999, 1]] = -1.0
    logits[0] = -0.0  # equal to 0.0
    indices, _ = run_top_k(variant_runner, logits, 6)
    np.testing.assert_array_equal(indices, [7, 300, 2500, 4000, 0, 2])


def test_packed_attention_keeps_each_sequence_to_itself(variant_runner, rng):
    """Three texts packed end to end: each query attends over its own text's keys only."""
    lengths = [5, 1, 13]
    q, k, v = rng.standard_normal((3, sum(lengths), 12, 32), dtype=np.float32)
    starts = np.cumsum([0, *lengths[:-1]])
    spans = np.repeat(np.stack([starts, lengths], axis=1), lengths, axis=0).astype(np.uint32)
    uniforms = {"n_tokens": sum(lengths), "n_heads": 12, "n_kv_heads": 12, "head_dim": 32}
    uniforms |= {"kv_len": 0, "causal": 0, "causal_offset": 0}
    result = variant_runner.run_one(
        "attention_packed",
        {"q": q, "k": k, "v": v, "spans": spans.reshape(-1), "out": zeros_like(q)},
        uniforms,
    )
    for start, length in zip(starts, lengths, strict=True):
        rows = slice(start, start + length)
        expected = layers.attention(q[rows], k[rows], v[rows], causal_offset=None)
        assert relative_error(result["out"][rows], expected) < TOLERANCE


@pytest.mark.parametrize("first_token_only", [0, 1])
def test_pool_sequences_means_or_first_rows_of_packed_texts(runner, rng, first_token_only):
    hidden = rng.standard_normal((20, 384), dtype=np.float32)
    spans = np.array([[0, 7], [7, 0], [7, 13]], np.uint32)
    result = runner.run_one(
        "pool_sequences",
        {"hidden": hidden, "spans": spans.reshape(-1), "out": np.ones((3, 384), np.float32)},
        {"n_sequences": 3, "n": 384, "first_token_only": first_token_only},
    )
    pooled = result["out"]
    if first_token_only:
        np.testing.assert_array_equal(pooled[[0, 2]], hidden[[0, 7]])
    else:
        np.testing.assert_allclose(pooled[0], hidden[:7].mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pooled[2], hidden[7:].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pooled[1], 0.0)  # an empty text pools to zeros, not NaN


@pytest.mark.parametrize(("n_history", "penalty"), [(0, 1.1), (1, 1.3), (70, 1.1)])
def test_penalize_repetition_lowers_each_seen_token_once(runner, rng, n_history, penalty):
    uniforms = (("n_history", n_history), ("penalty", penalty))
    assert check_kernel(runner, KernelCase("penalize_repetition", None, uniforms), rng) == 0


@pytest.mark.parametrize(
    ("k", "temperature", "top_p", "random"),
    [(40, 0.0, 0.9, 0.5), (40, 0.2, 0.9, 0.999), (40, 1.5, 0.95, 0.3), (1, 1.0, 1.0, 0.6)],
)
def test_sample_draws_as_the_reference(runner, rng, k, temperature, top_p, random):
    """The chosen candidate goes to indices[0] and to the history, exactly."""
    for n_history in (0, 5):
        uniforms = (("k", k), ("temperature", temperature), ("top_p", top_p))
        uniforms += (("random", random), ("n_history", n_history))
        assert check_kernel(runner, KernelCase("sample", None, uniforms), rng) == 0
