"""Weights as stored on disk: raw bytes in GGUF block layout, plus shape and format.

Keeping the stored bytes (rather than float32 copies) is what lets the browser
dequantize the very blocks llama.cpp would, with no second rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, quants

from pagemind.models.k_quants import quantize_k

# Every format the WGSL kernels decode (shaders/weights_<format>.wgsl).
FORMATS = ("F32", "F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K")
K_QUANTS = ("Q4_K", "Q5_K", "Q6_K")  # 256-value super-blocks, which gguf-py cannot write


@dataclass(frozen=True)
class QuantTensor:
    """One weight: `data` holds the stored bytes; `shape` is in numpy order (n_out, n_in)."""

    name: str
    format: str
    shape: tuple[int, ...]
    data: np.ndarray  # uint8, exactly as stored

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"{self.name}: unsupported tensor format {self.format}")
        expected = stored_bytes(self.format, self.shape)
        if self.data.dtype != np.uint8 or self.data.size != expected:
            raise ValueError(
                f"{self.name}: {self.format} {self.shape} needs {expected} bytes of uint8, "
                f"got {self.data.size} of {self.data.dtype}"
            )

    @property
    def nbytes(self) -> int:
        return self.data.size

    def dequantize(self) -> np.ndarray:
        """float32 values, `shape`; llama.cpp's own dequantization (gguf-py)."""
        rows = self.data.reshape(-1, stored_bytes(self.format, self.shape[-1:]))
        values = quants.dequantize(rows, GGMLQuantizationType[self.format])
        return values.astype(np.float32, copy=False).reshape(self.shape)

    def dequantize_rows(self, rows: np.ndarray) -> np.ndarray:
        """float32 values of these rows of a 2-D tensor, (len(rows), shape[1]): the same
        numbers as dequantize()[rows], without dequantizing the other rows."""
        stored = self.data.reshape(self.shape[0], -1)[rows]
        values = quants.dequantize(stored, GGMLQuantizationType[self.format])
        return values.astype(np.float32, copy=False).reshape(len(rows), self.shape[1])

    @classmethod
    def from_array(cls, name: str, array: np.ndarray, format: str) -> QuantTensor:
        """Convert or quantize float values into `format` (blocks run along the last axis)."""
        values = np.ascontiguousarray(array, dtype=np.float32)
        if format not in FORMATS:
            raise ValueError(f"{name}: unsupported tensor format {format}")
        stored_bytes(format, values.shape)  # refuses rows that do not fill whole blocks
        rows = values.reshape(-1, values.shape[-1])
        if format in K_QUANTS:
            data = quantize_k(rows, format)
        else:
            stored = quants.quantize(rows, GGMLQuantizationType[format])
            data = np.ascontiguousarray(stored).view(np.uint8).reshape(-1)
        return cls(name, format, tuple(values.shape), data)


def block_values(format: str) -> int:
    """Values per block: a quantized row holds a whole number of them."""
    return GGML_QUANT_SIZES[GGMLQuantizationType[format]][0]


def stored_bytes(format: str, shape: tuple[int, ...]) -> int:
    """Bytes a tensor of `shape` takes in `format`; quantized rows must fill whole blocks."""
    values_per_block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType[format]]
    count = math.prod(shape)
    if shape and shape[-1] % values_per_block:
        raise ValueError(f"a {format} row must be a multiple of {values_per_block} values: {shape}")
    return count // values_per_block * block_bytes
