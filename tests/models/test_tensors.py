"""QuantTensor keeps GGUF's block layout byte for byte and dequantizes it as llama.cpp does."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.models.tensors import QuantTensor


def decode_q8_0(data: np.ndarray) -> np.ndarray:
    """Q8_0 block: f16 scale d, then 32 int8 q; value = d * q."""
    blocks = data.reshape(-1, 34)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    return (d * blocks[:, 2:].view(np.int8)).reshape(-1)


def decode_q4_0(data: np.ndarray) -> np.ndarray:
    """Q4_0 block: f16 d, 16 bytes; low nibbles are values 0-15, high nibbles 16-31; d*(q-8)."""
    blocks = data.reshape(-1, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = np.concatenate([blocks[:, 2:] & 0x0F, blocks[:, 2:] >> 4], axis=1)
    return (d * (nibbles.astype(np.float32) - 8)).reshape(-1)


def decode_q4_1(data: np.ndarray) -> np.ndarray:
    """Q4_1 block: f16 d, f16 m, 16 bytes of nibbles as Q4_0; value = d*q + m."""
    blocks = data.reshape(-1, 20)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    nibbles = np.concatenate([blocks[:, 4:] & 0x0F, blocks[:, 4:] >> 4], axis=1)
    return (d * nibbles + m).reshape(-1)


DECODERS = {"Q8_0": decode_q8_0, "Q4_0": decode_q4_0, "Q4_1": decode_q4_1}
BLOCK_BYTES = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20}


@pytest.fixture
def weights() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((6, 96)).astype(np.float32)


@pytest.mark.parametrize("tensor_format", sorted(DECODERS))
def test_quantized_bytes_are_gguf_blocks(weights: np.ndarray, tensor_format: str) -> None:
    tensor = QuantTensor.from_array("w", weights, tensor_format)
    assert tensor.data.dtype == np.uint8
    assert tensor.nbytes == weights.size // 32 * BLOCK_BYTES[tensor_format]
    by_hand = DECODERS[tensor_format](tensor.data).reshape(weights.shape)
    np.testing.assert_array_equal(tensor.dequantize(), by_hand)


# The largest error each format allows in a block, from the block's values.
MAX_ERROR = {
    "Q8_0": lambda block: np.abs(block).max() / 127 / 2,  # half of d = absmax / 127
    # d = absmax / 8 (signed), q in [0, 15]: the side opposite the largest magnitude clips
    # by up to a whole step.
    "Q4_0": lambda block: np.abs(block).max() / 8,
    "Q4_1": lambda block: (block.max() - block.min()) / 15 / 2,  # half of d = range / 15
}


@pytest.mark.parametrize("tensor_format", sorted(MAX_ERROR))
def test_quantization_error_is_within_the_format_step(
    weights: np.ndarray, tensor_format: str
) -> None:
    restored = QuantTensor.from_array("w", weights, tensor_format).dequantize()
    for block, restored_block in zip(
        weights.reshape(-1, 32), restored.reshape(-1, 32), strict=True
    ):
        f16_scale_slack = np.abs(block).max() * 2e-3
        bound = MAX_ERROR[tensor_format](block) + f16_scale_slack
        assert np.abs(restored_block - block).max() <= bound


def test_float_formats_keep_values(weights: np.ndarray) -> None:
    np.testing.assert_array_equal(QuantTensor.from_array("w", weights, "F32").dequantize(), weights)
    half = QuantTensor.from_array("w", weights, "F16")
    assert half.nbytes == weights.size * 2
    np.testing.assert_array_equal(half.dequantize(), weights.astype(np.float16).astype(np.float32))


def test_shape_is_numpy_order_and_blocks_run_along_rows() -> None:
    rows = np.stack([np.full(32, 127.0), np.full(32, -254.0)]).astype(np.float32)
    tensor = QuantTensor.from_array("w", rows, "Q8_0")
    assert tensor.shape == (2, 32)
    assert decode_q8_0(tensor.data[:34]).tolist() == [127.0] * 32
    assert decode_q8_0(tensor.data[34:]).tolist() == [-254.0] * 32


def test_rejects_bytes_that_do_not_match_shape_and_format() -> None:
    with pytest.raises(ValueError, match="needs 68 bytes"):
        QuantTensor("w", "Q8_0", (2, 32), np.zeros(60, np.uint8))
    with pytest.raises(ValueError, match="unsupported tensor format IQ4_XS"):
        QuantTensor("w", "IQ4_XS", (1, 256), np.zeros(136, np.uint8))
    with pytest.raises(ValueError, match="multiple of 32"):
        QuantTensor.from_array("w", np.zeros((2, 40), np.float32), "Q4_1")
    with pytest.raises(ValueError, match="a Q4_K row must be a multiple of 256"):
        QuantTensor.from_array("w", np.zeros((2, 576), np.float32), "Q4_K")


# K-quants: bytes per 256-value super-block; per sub-block (32 values, Q6_K 16), the step its
# scale needs; the steps of a super-block's sub-blocks are multiples of one factor (the largest
# step / 63, Q6_K / 127), rounded up so that no value clips.
K_QUANT_BYTES = {"Q4_K": 144, "Q5_K": 176, "Q6_K": 210}
K_QUANT_STEPS = {
    "Q4_K": (32, 63, lambda sub: (sub.max() - min(sub.min(), 0)) / 15),
    "Q5_K": (32, 63, lambda sub: (sub.max() - min(sub.min(), 0)) / 31),
    "Q6_K": (16, 127, lambda sub: np.abs(sub).max() / 31),
}


@pytest.mark.parametrize("tensor_format", sorted(K_QUANT_BYTES))
def test_k_quants_write_super_blocks_within_a_step(tensor_format: str) -> None:
    rng = np.random.default_rng(3)
    # Sub-blocks of very different magnitudes, so their scales differ widely.
    values = rng.standard_normal((5, 512)) * rng.uniform(0.01, 3, (5, 32)).repeat(16, axis=1)
    tensor = QuantTensor.from_array("w", values.astype(np.float32), tensor_format)
    assert tensor.nbytes == 5 * 2 * K_QUANT_BYTES[tensor_format]
    size, levels, step = K_QUANT_STEPS[tensor_format]
    restored = tensor.dequantize().reshape(-1, 256 // size, size)
    for block, restored_block in zip(values.reshape(-1, 256 // size, size), restored, strict=True):
        factor = max(step(sub) for sub in block) / levels
        for sub, restored_sub in zip(block, restored_block, strict=True):
            # Half a step of the rounded-up scale, which also spans the rounded-up minimum.
            slack = factor if tensor_format == "Q6_K" else 2 * factor
            bound = (step(sub) + slack) / 2
            assert np.abs(restored_sub - sub).max() <= bound * 1.01


def test_k_quants_keep_zero_blocks_zero() -> None:
    for tensor_format in K_QUANT_BYTES:
        tensor = QuantTensor.from_array("w", np.zeros((2, 256), np.float32), tensor_format)
        assert not tensor.dequantize().any()
