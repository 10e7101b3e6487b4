"""The `_lora` matvecs: a product that adds a LoRA adapter's B (A x) in its own dispatch, in
every variant and in block formats of both sizes (32-value blocks, K-quant super-blocks),
against numpy on the weights as gguf-py dequantizes them plus B A (the checks `pagemind
check` runs at a site's shapes, pagemind.gpu.kernel_checks)."""

from __future__ import annotations

import pytest
from pagemind.gpu.kernel_checks import KernelCase, check_kernel

pytestmark = pytest.mark.gpu

TOLERANCE = 1e-5
ADAPTED = ["matvec_lora", "matvec_accumulate_lora", "matvec_norm_lora", "matvec_norm_swiglu_lora"]
# (format, (n_out, n_in)): SmolLM2's fused Q/K/V and ffn_down; rows that are no multiple of 4
# or 64; one K-quant super-block per row and several.
CASES = [
    ("Q4_1", (960, 576)),
    ("Q8_0", (37, 96)),
    ("Q4_K", (101, 768)),
    ("Q6_K", (576, 1536)),
    ("Q5_K", (5, 256)),
]


@pytest.mark.parametrize("kernel", ADAPTED)
@pytest.mark.parametrize(("weight_format", "shape"), CASES, ids=str)
def test_lora_matvec_adds_the_adapter_to_the_product(
    variant_runner, rng, kernel, weight_format, shape
):
    n_out, n_in = shape
    uniforms = (("n_in", n_in), ("n_out", n_out))
    if "norm" in kernel:
        uniforms += (("eps", 1e-5),)
    case = KernelCase(kernel, weight_format, uniforms)
    assert check_kernel(variant_runner, case, rng) < TOLERANCE
