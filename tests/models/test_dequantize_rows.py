"""A tensor's rows dequantized alone (BERT's word embeddings, read per token) equal the same
rows of the whole tensor dequantized, in every stored format."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.models.tensors import FORMATS, QuantTensor


@pytest.mark.parametrize("format", FORMATS)
def test_rows_dequantize_as_the_whole_tensor_does(format: str) -> None:
    values = np.random.default_rng(0).standard_normal((40, 256)).astype(np.float32)
    tensor = QuantTensor.from_array("table", values, format)
    rows = np.array([7, 0, 39, 7])
    assert np.array_equal(tensor.dequantize_rows(rows), tensor.dequantize()[rows])
