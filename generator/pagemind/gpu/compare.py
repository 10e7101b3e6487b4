"""How GPU results are compared with the numpy reference, by the kernel and program checks."""

from __future__ import annotations

import numpy as np


def relative_error(got: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute error, relative to the largest magnitude of the expected output.

    Relative to the output's scale rather than per element, so values near zero (where f32
    rounding of a long dot product dominates) do not make a correct kernel look wrong.
    """
    scale = float(np.max(np.abs(expected)))
    return float(np.max(np.abs(got - expected))) / (scale if scale > 0 else 1.0)
