"""Write llama.cpp's K-quant super-blocks (Q4_K, Q5_K, Q6_K) from float values.

gguf-py decodes these formats but cannot write them, and test models and benchmarks need
them. The rounding is plain (one pass, no search for the best scales as llama-quantize
does; scales and minimums rounded outward, so no value clips), so the values differ slightly
from llama-quantize's output; the bytes are valid
blocks, which gguf-py and the WGSL kernels decode alike. Layouts, per 256 values:

    Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit scales and mins of the 8
        sub-blocks of 32 values, 128 bytes of 4-bit q; value = d * scale * q - dmin * min
    Q5_K (176 bytes): as Q4_K with 32 bytes of fifth bits (bit j of byte i: value i of
        sub-block j) before the 4-bit q
    Q6_K (210 bytes): 128 bytes of the low 4 bits, 64 bytes of the high 2 bits, 16 int8
        scales of the sub-blocks of 16 values, f16 d; value = d * scale * (q - 32)
"""

from __future__ import annotations

import numpy as np

SUPER_BLOCK = 256


def quantize_k(values: np.ndarray, format: str) -> np.ndarray:
    """uint8 bytes of (rows, n) float32 values in a K-quant `format`; n % 256 == 0."""
    blocks = values.reshape(-1, SUPER_BLOCK).astype(np.float32)
    packed = {"Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k}[format](blocks)
    return np.ascontiguousarray(packed).reshape(-1)


def _q4_k(blocks: np.ndarray) -> np.ndarray:
    d, dmin, scales, q = _scaled_with_minimum(blocks, levels=15)
    return np.concatenate([d, dmin, scales, _nibbles_by_sub_block_pair(q)], axis=1)


def _q5_k(blocks: np.ndarray) -> np.ndarray:
    d, dmin, scales, q = _scaled_with_minimum(blocks, levels=31)
    fifth_bits = (q >> 4).reshape(-1, 8, 32) << np.arange(8, dtype=np.uint8)[:, None]
    high = np.bitwise_or.reduce(fifth_bits, axis=1).astype(np.uint8)
    return np.concatenate([d, dmin, scales, high, _nibbles_by_sub_block_pair(q & 15)], axis=1)


def _scaled_with_minimum(
    blocks: np.ndarray, levels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """f16 d and dmin (as bytes), the 12 packed scale bytes and q in 0..levels, per block:
    each sub-block of 32 spans its minimum (at most 0) to its maximum in `levels` steps."""
    sub_blocks = blocks.reshape(-1, 8, 32)
    dmin, min_steps = _six_bit(-np.minimum(sub_blocks.min(axis=2), 0))
    offset = dmin[:, None] * min_steps
    d, scale = _six_bit((sub_blocks.max(axis=2) + offset) / levels)
    quantum = (d[:, None] * scale)[..., None]
    q = _divide_rounded(sub_blocks + offset[..., None], quantum).clip(0, levels).astype(np.uint8)
    packed = _pack_scales(scale.astype(np.uint8), min_steps.astype(np.uint8))
    return _f16_bytes(d), _f16_bytes(dmin), packed, q.reshape(-1, SUPER_BLOCK)


def _six_bit(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An f16 factor per row and the 6-bit multiples of it (0..63) at or above `values`."""
    factor = _f16_above(values.max(axis=1) / 63)
    return factor, _divide_up(values, factor[:, None]).clip(0, 63)


def _pack_scales(scale: np.ndarray, minimum: np.ndarray) -> np.ndarray:
    """llama.cpp's 12 bytes: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7
    (mins); sub-blocks 4-7 in the low and high nibbles of bytes 8-11, their top 2 bits in
    the top bits of bytes 0-7."""
    low_scale, high_scale = scale[:, :4], scale[:, 4:]
    low_min, high_min = minimum[:, :4], minimum[:, 4:]
    return np.concatenate(
        [
            low_scale | (high_scale >> 4) << 6,
            low_min | (high_min >> 4) << 6,
            (high_scale & 15) | (high_min & 15) << 4,
        ],
        axis=1,
    ).astype(np.uint8)


def _nibbles_by_sub_block_pair(q: np.ndarray) -> np.ndarray:
    """128 bytes: byte 32 c + i holds value i of sub-block 2c (low) and of 2c + 1 (high)."""
    pairs = q.reshape(-1, 4, 2, 32)
    return (pairs[:, :, 0] | pairs[:, :, 1] << 4).reshape(-1, 128)


def _q6_k(blocks: np.ndarray) -> np.ndarray:
    sub_blocks = blocks.reshape(-1, 16, 16)
    step = np.abs(sub_blocks).max(axis=2) / 31
    d = _f16_above(step.max(axis=1) / 127)
    scale = _divide_up(step, d[:, None]).clip(0, 127)
    quantum = (d[:, None] * scale)[..., None]
    q = (_divide_rounded(sub_blocks, quantum).clip(-32, 31) + 32).astype(np.uint8)
    # Value 128 h + 64 s + k: low 4 bits in nibble s of byte 64 h + k; value 128 h + 32 t + i:
    # high 2 bits at bit 2 t of byte 128 + 32 h + i.
    by_nibble = q.reshape(-1, 2, 2, 64)
    low = (by_nibble[:, :, 0] & 15) | (by_nibble[:, :, 1] & 15) << 4
    by_pair = (q.reshape(-1, 2, 4, 32) >> 4) << (2 * np.arange(4, dtype=np.uint8))[:, None]
    high = np.bitwise_or.reduce(by_pair, axis=2).astype(np.uint8)
    scales = scale.astype(np.int8).view(np.uint8)
    return np.concatenate([low.reshape(-1, 128), high.reshape(-1, 64), scales, _f16_bytes(d)], 1)


def _divide_rounded(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """round(numerator / denominator), 0 where the denominator is 0 (an all-zero block)."""
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0, np.round(numerator / safe))


def _divide_up(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """ceil(numerator / denominator), 0 where the denominator is 0."""
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0, np.ceil(numerator / safe))


def _f16_above(values: np.ndarray) -> np.ndarray:
    """The f16 value at or above each value (as float32): a factor that covers the range."""
    rounded = values.astype(np.float16)
    below = rounded.astype(np.float32) < values
    return np.where(below, np.nextafter(rounded, np.float16(np.inf)), rounded).astype(np.float32)


def _f16_bytes(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16).reshape(-1, 1).view(np.uint8)


def q4_k_m_format(name: str, row_length: int, num_layers: int) -> str:
    """The format llama-quantize's Q4_K_M gives a block matrix `name` (blk.<n>.<kind>.weight):
    Q6_K for attn_v and ffn_down in the first and last eighth of the blocks and every third
    between, Q4_K elsewhere; rows that are not whole super-blocks fall back to Q8_0 and Q5_0."""
    block = int(name.split(".")[1])
    eighth = num_layers // 8
    more_bits = block < eighth or block >= 7 * num_layers // 8 or (block - eighth) % 3 == 2
    wide = name.endswith(("attn_v.weight", "ffn_down.weight")) and more_bits
    if row_length % SUPER_BLOCK:
        return "Q8_0" if wide else "Q5_0"
    return "Q6_K" if wide else "Q4_K"
