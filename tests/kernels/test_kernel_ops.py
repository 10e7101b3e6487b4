"""Kernels without weights against the numpy reference ops of pagemind.models.layers."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.compare import relative_error
from pagemind.models import layers

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
def test_rms_norm(runner, rng, n_rows, n):
    x = rng.standard_normal((n_rows, n), dtype=np.float32) * 3
    weight = rng.standard_normal(n, dtype=np.float32)
    result = runner.run_one(
        "rms_norm",
        {"x": x, "weight": weight, "out": zeros_like(x)},
        {"n_rows": n_rows, "n": n, "eps": 1e-5},
    )
    assert relative_error(result["out"], layers.rms_norm(x, weight, 1e-5)) < TOLERANCE


@pytest.mark.parametrize(("n_rows", "n"), [(1, 384), (64, 384), (5, 300)])
def test_layer_norm_with_an_offset_mean(runner, rng, n_rows, n):
    x = rng.standard_normal((n_rows, n), dtype=np.float32) + 50  # cancellation trap
    weight, bias = rng.standard_normal((2, n), dtype=np.float32)
    result = runner.run_one(
        "layer_norm",
        {"x": x, "weight": weight, "bias": bias, "out": zeros_like(x)},
        {"n_rows": n_rows, "n": n, "eps": 1e-12},
    )
    assert relative_error(result["out"], layers.layer_norm(x, weight, bias, 1e-12)) < TOLERANCE


def test_l2_normalize_rows(runner, rng):
    x = rng.standard_normal((4, 384), dtype=np.float32)
    uniforms = {"n_rows": 4, "n": 384, "eps": 1e-12}
    result = runner.run_one("l2_normalize", {"x": x, "out": zeros_like(x)}, uniforms)
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
def test_rope(runner, rng, interleaved, n_heads, theta, position):
    n_tokens, head_dim = 37, 64
    x = rng.standard_normal((n_tokens, n_heads, head_dim), dtype=np.float32)
    kernel = "rope_interleaved" if interleaved else "rope_neox"
    uniforms = {"n_tokens": n_tokens, "n_heads": n_heads, "head_dim": head_dim}
    uniforms |= {"position": position, "theta": theta}
    result = runner.run_one(kernel, {"x": x.copy()}, uniforms)
    positions = np.arange(n_tokens) + position
    assert (
        relative_error(result["x"], layers.rope(x, positions, theta, interleaved)) < ROPE_TOLERANCE
    )


def run_attention(runner, q, k, v, causal_offset):
    n_tokens, n_heads, head_dim = q.shape
    uniforms = {"n_tokens": n_tokens, "n_heads": n_heads, "n_kv_heads": k.shape[1]}
    uniforms |= {"head_dim": head_dim, "kv_len": k.shape[0]}
    uniforms |= {"causal": int(causal_offset is not None), "causal_offset": causal_offset or 0}
    return runner.run_one("attention", {"q": q, "k": k, "v": v, "out": zeros_like(q)}, uniforms)[
        "out"
    ]


@pytest.mark.parametrize(("n_tokens", "kv_len"), [(1, 1), (1, 300), (37, 37), (5, 42)])
def test_grouped_query_causal_attention(runner, rng, n_tokens, kv_len):
    """SmolLM2 heads (9 query heads over 3 KV heads of 64): decode over a cache, and prefill
    (kv_len > n_tokens continues after cached positions)."""
    q = rng.standard_normal((n_tokens, 9, 64), dtype=np.float32)
    k, v = rng.standard_normal((2, kv_len, 3, 64), dtype=np.float32)
    offset = kv_len - n_tokens
    expected = layers.attention(q, k, v, causal_offset=offset)
    assert relative_error(run_attention(runner, q, k, v, offset), expected) < TOLERANCE


def test_bidirectional_attention_of_the_embedder(runner, rng):
    q, k, v = rng.standard_normal((3, 19, 12, 32), dtype=np.float32)  # MiniLM: 12 heads of 32
    expected = layers.attention(q, k, v, causal_offset=None)
    assert relative_error(run_attention(runner, q, k, v, None), expected) < TOLERANCE


def test_attention_with_a_head_dim_that_does_not_divide_the_workgroup(runner, rng):
    q = rng.standard_normal((3, 4, 80), dtype=np.float32)
    k, v = rng.standard_normal((2, 10, 2, 80), dtype=np.float32)
    expected = layers.attention(q, k, v, causal_offset=7)
    assert relative_error(run_attention(runner, q, k, v, 7), expected) < TOLERANCE


@pytest.mark.parametrize("n", [1536, 1000, 37 * 1536])
def test_swiglu(runner, rng, n):
    gate, up = rng.standard_normal((2, n), dtype=np.float32) * 4
    result = runner.run_one(
        "swiglu", {"a": gate, "b": up, "out": zeros_like(gate)}, {"n": n, "row_len": n}
    )
    assert relative_error(result["out"], layers.swiglu(gate, up)) < TOLERANCE


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
    result = runner.run_one(
        "top_k",
        {"x": x, "indices": np.zeros(k, np.uint32), "values": np.zeros(k, np.float32)},
        {"n": x.size, "k": k},
    )
    return result["indices"], result["values"]


@pytest.mark.parametrize(("n", "k"), [(49152, 1), (49152, 64), (1000, 40)])
def test_top_k_picks_the_largest_logits_best_first(runner, rng, n, k):
    logits = rng.standard_normal(n, dtype=np.float32) * 5
    indices, values = run_top_k(runner, logits, k)
    expected = np.argsort(-logits, kind="stable")[:k]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(values, logits[expected])


def test_top_k_breaks_ties_by_the_lower_index(runner):
    logits = np.zeros(5000, np.float32)
    logits[[4000, 7, 2500, 300]] = 3.0
    logits[[4999, 1]] = -1.0
    indices, _ = run_top_k(runner, logits, 6)
    np.testing.assert_array_equal(indices, [7, 300, 2500, 4000, 0, 2])
