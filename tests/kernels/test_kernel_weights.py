"""Kernels that read GGUF weight blocks: matvec (plain, accumulating, SwiGLU, normalizing its
input), matmul and embedding lookup.

The reference is numpy on the matrix as gguf-py (llama.cpp's own code) dequantizes it, so
these checks cover the in-kernel block decoding as well as the arithmetic. The comparisons
are the product's own kernel checks (pagemind.gpu.kernel_checks), which `pagemind check`
runs at a site's model shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.checks import CheckedModel, check_kernels, run_checks, weight_formats
from pagemind.gpu.compare import relative_error
from pagemind.gpu.kernel_checks import F16_TOLERANCE, KernelCase, check_kernel, tolerance
from pagemind.gpu.kernels import WEIGHT_FORMATS
from pagemind.gpu.program import compile_decoder
from pagemind.gpu.runner import BufferRange, Dispatch
from pagemind.models.gguf_source import read_gguf
from pagemind.models.tensors import K_QUANTS, QuantTensor, block_values
from pagemind.models.tiny_model import tiny_llama_gguf

pytestmark = pytest.mark.gpu

# f32 dot products of up to 1536 terms, summed in a different order than numpy's.
TOLERANCE = 1e-5

# (n_out, n_in): SmolLM2-135M q/o, k/v, gate/up, down; MiniLM ffn in/out; odd sizes
# (fewer groups than threads per row; one Q4_0 block per row, so rows start mid-word).
MATRIX_SHAPES = [(576, 576), (192, 576), (1536, 576), (576, 1536), (1536, 384), (384, 1536)]
ODD_SHAPES = [(37, 96), (5, 32)]
# The formats whose blocks (32 values at most) fit every row length above; the K-quants'
# 256-value super-blocks have cases of their own.
SMALL_BLOCK_FORMATS = [name for name in WEIGHT_FORMATS if block_values(name) <= 32]
# K-quant rows: one super-block, several, and SmolLM2's ffn_down (1536); output rows that are
# not a multiple of 4 (plain) or 64 (rows) and fewer than the threads of a row.
K_QUANT_SHAPES = [(37, 512), (5, 256), (576, 1536), (101, 768)]


def random_weights(rng, shape, weight_format) -> QuantTensor:
    return QuantTensor.from_array("w", rng.standard_normal(shape, dtype=np.float32), weight_format)


@pytest.mark.parametrize("weight_format", SMALL_BLOCK_FORMATS)
@pytest.mark.parametrize("shape", MATRIX_SHAPES + ODD_SHAPES, ids=str)
def test_matvec_matches_numpy_on_the_dequantized_matrix(variant_runner, rng, weight_format, shape):
    n_out, n_in = shape
    case = KernelCase("matvec", weight_format, (("n_in", n_in), ("n_out", n_out)))
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize("weight_format", ["Q8_0", "Q4_1"])
def test_output_projection_over_the_whole_vocabulary(runner, rng, weight_format):
    case = KernelCase("matvec", weight_format, (("n_in", 576), ("n_out", 49152)))
    assert check_kernel(runner, case, rng) < TOLERANCE


def test_matvec_accumulate_adds_into_the_residual_stream(variant_runner, rng):
    case = KernelCase("matvec_accumulate", "Q4_1", (("n_in", 1536), ("n_out", 576)))
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize("weight_format", SMALL_BLOCK_FORMATS)
@pytest.mark.parametrize("n_out", [1536, 37], ids=str)
def test_matvec_swiglu_gates_the_up_rows_by_the_gate_rows(
    variant_runner, rng, weight_format, n_out
):
    """SmolLM2's fused ffn_gate_up (2 x 1536 rows), and an odd count of output rows."""
    case = KernelCase("matvec_swiglu", weight_format, (("n_in", 576), ("n_out", n_out)))
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize("weight_format", SMALL_BLOCK_FORMATS)
@pytest.mark.parametrize(
    ("kernel", "shape"),
    [("matvec_norm", (192, 576)), ("matvec_norm", (37, 96)), ("matvec_norm_swiglu", (37, 576))],
    ids=str,
)
def test_matvec_norm_multiplies_the_rms_normed_input(
    variant_runner, rng, weight_format, kernel, shape
):
    """A decode step's norm folded into the product that reads it: plain and SwiGLU."""
    n_out, n_in = shape
    case = KernelCase(kernel, weight_format, (("n_in", n_in), ("n_out", n_out), ("eps", 1e-5)))
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


def test_weights_bound_as_a_256_aligned_range_inside_a_shard(runner, rng):
    """Tensors sit inside shared shard files; the kernel must see only its own range."""
    first = random_weights(rng, (10, 96), "Q4_0")  # 540 bytes: the second tensor is padded
    second = random_weights(rng, (7, 64), "Q4_0")
    offset = -(-first.nbytes // 256) * 256
    shard = np.zeros(offset + second.nbytes, np.uint8)
    shard[: first.nbytes] = first.data
    shard[offset:] = second.data
    x = rng.standard_normal(64, dtype=np.float32)
    out = runner.empty(7 * 4)
    weights = BufferRange(runner.upload(shard), offset, -(-second.nbytes // 4) * 4)
    buffers = {"weights": weights, "x": runner.upload(x), "out": out}
    runner.run([Dispatch("matvec", buffers, {"n_in": 64, "n_out": 7}, "Q4_0")])
    assert relative_error(runner.read(out), second.dequantize() @ x) < TOLERANCE


@pytest.mark.parametrize("weight_format", SMALL_BLOCK_FORMATS)
@pytest.mark.parametrize("n_tokens", [1, 37])
def test_matmul_matches_numpy_for_a_prefill_batch(variant_runner, rng, weight_format, n_tokens):
    uniforms = (("n_in", 576), ("n_out", 1536), ("n_tokens", n_tokens))
    case = KernelCase("matmul", weight_format, uniforms)
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize(
    ("weight_format", "shape", "n_tokens"),
    [
        ("F32", (384, 1536), 64),
        ("F16", (1536, 384), 17),
        ("Q4_0", (37, 96), 5),
        ("F32", (9, 40), 3),
    ],
    ids=str,
)
def test_matmul_accumulate_on_odd_and_embedder_shapes(
    variant_runner, rng, weight_format, shape, n_tokens
):
    n_out, n_in = shape
    uniforms = (("n_in", n_in), ("n_out", n_out), ("n_tokens", n_tokens))
    case = KernelCase("matmul_accumulate", weight_format, uniforms)
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize("kernel", ["matmul", "matmul_accumulate"])
@pytest.mark.parametrize("weight_format", SMALL_BLOCK_FORMATS)
def test_matmul_on_sizes_that_cut_the_tiles(variant_runner, rng, weight_format, kernel):
    """Tokens and rows past a 64-wide tile, rows not a multiple of 4 and (F32, F16) a last
    slice of n_in shorter than 32 values."""
    n_in = 96 if weight_format.startswith("Q") else 72
    uniforms = (("n_in", n_in), ("n_out", 101), ("n_tokens", 70))
    assert (
        check_kernel(variant_runner, KernelCase(kernel, weight_format, uniforms), rng) < TOLERANCE
    )


@pytest.mark.parametrize("weight_format", SMALL_BLOCK_FORMATS)
@pytest.mark.parametrize(
    ("kernel", "shape", "n_tokens"),
    [("matmul", (1536, 576), 128), ("matmul_accumulate", (576, 1536), 37)]
    + [(kernel, (101, 96), 70) for kernel in ("matmul", "matmul_accumulate")],
    ids=str,
)
def test_matmul_f16_variant_stays_within_its_tolerance(
    f16_runner, rng, weight_format, kernel, shape, n_tokens
):
    """f16 tiles: the error exceeds f32's (the variant really runs) but stays within its own
    bound, for SmolLM2 shapes and tiles cut at every edge."""
    n_out, n_in = shape
    uniforms = (("n_in", n_in), ("n_out", n_out), ("n_tokens", n_tokens))
    case = KernelCase(kernel, weight_format, uniforms)
    assert tolerance(f16_runner, kernel) == F16_TOLERANCE
    assert TOLERANCE < check_kernel(f16_runner, case, rng) < F16_TOLERANCE


def test_check_kernels_holds_f16_variants_to_their_own_tolerance(f16_runner, tmp_path):
    """`pagemind check` on an adapter with shader-f16: only the kernels with an f16 variant,
    labelled and limited as such."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    lines: list[str] = []
    check_kernels([f16_runner], [compile_decoder(model, 64, max_prefill_tokens=40)], lines.append)
    assert lines
    assert all(line.startswith("ok  kernel matmul") and "[f16]" in line for line in lines)
    assert all(f"(limit {F16_TOLERANCE:g})" in line for line in lines)


@pytest.mark.parametrize("kernel", ["matmul", "matmul_accumulate"])
def test_matmul_leaves_rows_past_the_batch_untouched(variant_runner, rng, kernel):
    """Programs size activations for their longest batch: a shorter one writes only its rows."""
    n_in, n_out, n_tokens, capacity = 64, 101, 70, 128
    weights = random_weights(rng, (n_out, n_in), "Q8_0")
    x = rng.standard_normal((capacity, n_in), dtype=np.float32)
    out = rng.standard_normal((capacity, n_out), dtype=np.float32)
    uniforms = {"n_in": n_in, "n_out": n_out, "n_tokens": n_tokens}
    arrays = {"weights": weights.data, "x": x, "out": out}
    written = variant_runner.run_one(kernel, arrays, uniforms, "Q8_0")["out"]
    np.testing.assert_array_equal(written[n_tokens:], out[n_tokens:])


@pytest.mark.parametrize(
    ("weight_format", "n_embd"),
    [(name, 576) for name in SMALL_BLOCK_FORMATS] + [(name, 512) for name in K_QUANTS],
)
def test_embedding_lookup_returns_the_dequantized_rows(runner, rng, weight_format, n_embd):
    table = random_weights(rng, (1000, n_embd), weight_format)
    ids = np.array([0, 999, 17, 17, 512], np.uint32)
    result = runner.run_one(
        "embedding",
        {"weights": table.data, "ids": ids, "out": np.zeros((ids.size, n_embd), np.float32)},
        {"n_embd": n_embd, "n_tokens": ids.size},
        weight_format,
    )
    np.testing.assert_array_equal(result["out"], table.dequantize()[ids])


@pytest.mark.parametrize("weight_format", K_QUANTS)
@pytest.mark.parametrize("shape", K_QUANT_SHAPES, ids=str)
def test_k_quant_matvec_decodes_super_blocks_as_gguf_does(
    variant_runner, rng, weight_format, shape
):
    n_out, n_in = shape
    case = KernelCase("matvec", weight_format, (("n_in", n_in), ("n_out", n_out)))
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize("weight_format", K_QUANTS)
@pytest.mark.parametrize("kernel", ["matvec_norm_swiglu", "matvec_accumulate"])
def test_k_quant_fused_matvecs(variant_runner, rng, weight_format, kernel):
    uniforms = (("n_in", 512), ("n_out", 37), ("eps", 1e-5))
    if kernel == "matvec_accumulate":
        uniforms = uniforms[:2]
    assert (
        check_kernel(variant_runner, KernelCase(kernel, weight_format, uniforms), rng) < TOLERANCE
    )


@pytest.mark.parametrize("weight_format", K_QUANTS)
@pytest.mark.parametrize("kernel", ["matmul", "matmul_accumulate"])
def test_k_quant_matmul_on_sizes_that_cut_the_tiles(variant_runner, rng, weight_format, kernel):
    uniforms = (("n_in", 768), ("n_out", 101), ("n_tokens", 70))
    assert (
        check_kernel(variant_runner, KernelCase(kernel, weight_format, uniforms), rng) < TOLERANCE
    )


@pytest.mark.parametrize("weight_format", K_QUANTS)
def test_k_quant_matmul_f16_variant_stays_within_its_tolerance(f16_runner, rng, weight_format):
    uniforms = (("n_in", 512), ("n_out", 101), ("n_tokens", 70))
    case = KernelCase("matmul", weight_format, uniforms)
    assert TOLERANCE < check_kernel(f16_runner, case, rng) < F16_TOLERANCE


def test_check_runs_a_q4_k_m_model_in_the_formats_it_reads(gpu, tmp_path):
    """`pagemind check` compiles the weight kernels in the model's formats only, checks each
    K-quant kernel at the model's shapes, then the whole program."""
    path = tiny_llama_gguf(
        tmp_path / "q4_k_m.gguf", matrix_format="Q4_K_M", hidden_size=256, intermediate_size=512
    )
    model = read_gguf(path)
    program = compile_decoder(model, 256, max_prefill_tokens=192)  # the check's chat prompt
    assert weight_formats([program]) == ["Q8_0", "Q4_K", "Q6_K"]  # Q8_0: embedding, block 1 QKV
    lines: list[str] = []
    run_checks(gpu, [CheckedModel("generator", model, program)], report=lines.append)
    assert any(line.startswith("ok  kernel matvec_norm_swiglu:Q4_K n_in=256") for line in lines)
    assert any(line.startswith("ok  kernel matvec_accumulate:Q6_K n_in=512") for line in lines)
    assert any(line.startswith("ok  kernel matmul_accumulate:Q6_K n_in=512") for line in lines)
    assert any(line.startswith("ok  generator: ") for line in lines)
