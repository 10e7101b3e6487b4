"""numpy building blocks shared by the reference models and the GPU kernel checks.

Everything takes and returns float32; tokens run along the first axis.
"""

from __future__ import annotations

import math

import numpy as np

GELU_BLOCK = 1 << 15  # elements: a block and its three temporaries take 512 KiB, within L2


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    mean_square = np.mean(np.square(x), axis=-1, keepdims=True)
    return (x / np.sqrt(mean_square + eps) * weight).astype(np.float32)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    # Each pass over a large activation costs as much as a matmul row's worth of arithmetic:
    # the mean is a matrix-vector product and the variance an einsum, neither of which makes
    # a temporary array, and the rest is in place on one fresh array.
    width = x.shape[-1]
    normalized = x - (x @ np.full(width, 1 / width, dtype=x.dtype))[..., None]
    variance = np.einsum("...i,...i->...", normalized, normalized) / np.float32(width)
    normalized *= (1 / np.sqrt(variance + np.float32(eps)))[..., None]
    normalized *= weight
    normalized += bias
    return normalized.astype(np.float32, copy=False)


def rope(
    x: np.ndarray,
    positions: np.ndarray,
    theta: float,
    interleaved: bool,
    frequency_factors: np.ndarray | None = None,
) -> np.ndarray:
    """Rotary position embedding of x (tokens, heads, head_dim).

    interleaved=True rotates pairs (0,1), (2,3), ... (llama.cpp's NORM mode, which GGUF
    llama weights expect because the converter permutes the Q/K rows); False rotates
    pairs (i, i + head_dim/2) (NEOX mode, used by qwen2 and by transformers).
    frequency_factors (head_dim/2 divisors, Llama 3.1+'s rope_freqs.weight) slow down the
    rotation of each pair, as llama.cpp applies them.
    """
    head_dim = x.shape[-1]
    inverse_frequencies = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    if frequency_factors is not None:
        inverse_frequencies = inverse_frequencies / frequency_factors
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inverse_frequencies
    cos = np.cos(angles).astype(np.float32)[:, None, :]  # (tokens, 1, head_dim/2)
    sin = np.sin(angles).astype(np.float32)[:, None, :]
    if interleaved:
        first, second = x[..., 0::2], x[..., 1::2]
    else:
        first, second = np.split(x, 2, axis=-1)
    rotated_first = first * cos - second * sin
    rotated_second = first * sin + second * cos
    if interleaved:
        return np.stack([rotated_first, rotated_second], axis=-1).reshape(x.shape)
    return np.concatenate([rotated_first, rotated_second], axis=-1)


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    causal_offset: int | None,
    window: int | None = None,
) -> np.ndarray:
    """Scaled dot-product attention with grouped-query heads.

    q (T, n_heads, d); k, v (S, n_kv, d) with n_heads a multiple of n_kv. When
    causal_offset is not None, query i sees keys j <= i + causal_offset (the offset is
    the number of cached positions before the first query), and with a sliding `window`
    only the last `window` of those. Returns (T, n_heads, d).
    """
    n_heads, n_kv = q.shape[1], k.shape[1]
    group = n_heads // n_kv
    keys = np.repeat(k, group, axis=1).transpose(1, 2, 0)  # (heads, d, S)
    values = np.repeat(v, group, axis=1).transpose(1, 0, 2)  # (heads, S, d)
    scores = q.transpose(1, 0, 2) @ keys / np.float32(math.sqrt(q.shape[-1]))  # (heads, T, S)
    if causal_offset is not None:
        query_positions = np.arange(q.shape[0])[:, None] + causal_offset
        keys = np.arange(k.shape[0])
        visible = keys <= query_positions
        if window is not None:
            visible &= keys > query_positions - window
        scores = np.where(visible, scores, -np.inf)
    return (softmax(scores) @ values).transpose(1, 0, 2).astype(np.float32)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    exponentials = np.exp(x - np.max(x, axis=axis, keepdims=True))
    exponentials /= np.sum(exponentials, axis=axis, keepdims=True)
    return exponentials.astype(np.float32, copy=False)


def silu(x: np.ndarray) -> np.ndarray:
    return (x / (1.0 + np.exp(-x))).astype(np.float32)


def gelu(x: np.ndarray) -> np.ndarray:
    """The erf form of GELU that BERT uses, x/2 (1 + erf(x / sqrt 2)), in float32.

    erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7; with float32 rounding the
    result is within 1e-6 of the exact GELU). GELU runs over the widest activation of a BERT
    layer, so it is written as few in-place passes over float32 arrays as possible, a block
    at a time so that those passes stay in a core's cache, with two scratch blocks for all.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    result = np.empty_like(x)
    flat_x, flat_result = x.reshape(-1), result.reshape(-1)
    scratch = np.empty((2, min(GELU_BLOCK, flat_x.size)), dtype=np.float32)
    for start in range(0, flat_x.size, GELU_BLOCK):
        block = slice(start, start + GELU_BLOCK)
        _gelu_block(flat_x[block], flat_result[block], scratch[:, : len(flat_x[block])])
    return result


def _gelu_block(x: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    # With z = x / sqrt 2: 1 - erf(|z|) = t P(t) exp(-z^2), t = 1 / (1 + 0.3275911 |z|), and
    # x (1 + erf(z)) / 2 = (x + |x| - |x| (1 - erf(|z|))) / 2 for either sign of x (x + |x| is
    # exactly 0 or 2x; np.maximum(x, 0) would cost three times an addition).
    magnitude, t = scratch
    np.abs(x, out=magnitude)
    np.multiply(magnitude, np.float32(0.3275911 / math.sqrt(2.0)), out=t)
    t += 1
    np.divide(np.float32(1), t, out=t)
    tail = np.multiply(t, np.float32(1.061405429), out=out)  # 1 - erf(|z|), built in place
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        tail += np.float32(coefficient)
        tail *= t
    gaussian = np.square(x, out=t)
    gaussian *= np.float32(-0.5)
    np.exp(gaussian, out=gaussian)
    tail *= gaussian
    tail *= magnitude
    magnitude += x
    np.subtract(magnitude, tail, out=out)
    out *= np.float32(0.5)


def swiglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    return (silu(gate) * up).astype(np.float32)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation (Gemma's): x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    inner = np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x**3)
    return (0.5 * x * (1 + np.tanh(inner))).astype(np.float32)


def geglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    return (gelu_tanh(gate) * up).astype(np.float32)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the tokens where mask is 1: hidden (batch, tokens, dim), mask (batch, tokens)."""
    weights = mask.astype(np.float32)[..., None]
    return ((hidden * weights).sum(axis=-2) / np.maximum(weights.sum(axis=-2), 1e-9)).astype(
        np.float32
    )


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
