"""numpy building blocks shared by the reference models and the GPU kernel checks.

Everything takes and returns float32; tokens run along the first axis.
"""

from __future__ import annotations

import math

import numpy as np


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    mean_square = np.mean(np.square(x), axis=-1, keepdims=True)
    return (x / np.sqrt(mean_square + eps) * weight).astype(np.float32)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = np.square(x - mean).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(variance + eps) * weight + bias).astype(np.float32)


def rope(x: np.ndarray, positions: np.ndarray, theta: float, interleaved: bool) -> np.ndarray:
    """Rotary position embedding of x (tokens, heads, head_dim).

    interleaved=True rotates pairs (0,1), (2,3), ... (llama.cpp's NORM mode, which GGUF
    llama weights expect because the converter permutes the Q/K rows); False rotates
    pairs (i, i + head_dim/2) (NEOX mode, used by qwen2 and by transformers).
    """
    head_dim = x.shape[-1]
    inverse_frequencies = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
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


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal_offset: int | None) -> np.ndarray:
    """Scaled dot-product attention with grouped-query heads.

    q (T, n_heads, d); k, v (S, n_kv, d) with n_heads a multiple of n_kv. When
    causal_offset is not None, query i sees keys j <= i + causal_offset (the offset is
    the number of cached positions before the first query). Returns (T, n_heads, d).
    """
    n_heads, n_kv = q.shape[1], k.shape[1]
    group = n_heads // n_kv
    keys = np.repeat(k, group, axis=1).transpose(1, 2, 0)  # (heads, d, S)
    values = np.repeat(v, group, axis=1).transpose(1, 0, 2)  # (heads, S, d)
    scores = q.transpose(1, 0, 2) @ keys / np.float32(math.sqrt(q.shape[-1]))  # (heads, T, S)
    if causal_offset is not None:
        query_positions = np.arange(q.shape[0])[:, None] + causal_offset
        scores = np.where(np.arange(k.shape[0]) <= query_positions, scores, -np.inf)
    return (softmax(scores) @ values).transpose(1, 0, 2).astype(np.float32)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    exponentials = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return (exponentials / np.sum(exponentials, axis=axis, keepdims=True)).astype(np.float32)


def silu(x: np.ndarray) -> np.ndarray:
    return (x / (1.0 + np.exp(-x))).astype(np.float32)


def gelu(x: np.ndarray) -> np.ndarray:
    """The erf form of GELU that BERT uses."""
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(np.float32)


def erf(x: np.ndarray) -> np.ndarray:
    """Vectorized erf (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7), in float64."""
    x = np.asarray(x, dtype=np.float64)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    polynomial = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.sign(x) * (1.0 - polynomial * np.exp(-x * x))


def swiglu(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    return (silu(gate) * up).astype(np.float32)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the tokens where mask is 1: hidden (batch, tokens, dim), mask (batch, tokens)."""
    weights = mask.astype(np.float32)[..., None]
    return ((hidden * weights).sum(axis=-2) / np.maximum(weights.sum(axis=-2), 1e-9)).astype(
        np.float32
    )


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
