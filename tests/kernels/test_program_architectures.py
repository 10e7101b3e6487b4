"""The compiled program of each architecture beyond the default model's (Qwen3's head norms,
Llama 3's scaled rope, Gemma 3's sliding windows, post norms and GELU) on wgpu-py against
the numpy reference: a prefill of the prompt, then 32 greedy decode steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pagemind.checks import check_kernels
from pagemind.gpu.compare import relative_error
from pagemind.gpu.kernel_checks import ROPE_TOLERANCE, TOLERANCE, KernelCase, check_kernel
from pagemind.gpu.program import ProgramRunner, compile_decoder
from pagemind.gpu.runner import KernelRunner
from pagemind.models.generate import generate
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_model import LLAMA3_ROPE_SCALING, tiny_llama_gguf
from site_helpers import run_cli, tiny_assistant_site

pytestmark = pytest.mark.gpu

LOGIT_TOLERANCE = 1e-4  # logits relative to their scale, after the whole f32 network
GREEDY_TOKENS = 32
MODELS = {
    "qwen3-wide-heads": (
        {"architecture": "qwen3", "head_dim": 32, "matrix_format": "Q8_0"},
        "rope_to_cache_neox_normed",
    ),
    "qwen3-Q4_1-untied": (
        {"architecture": "qwen3", "tied_embeddings": False},
        "rope_to_cache_neox_normed",
    ),
    "llama3-scaled-rope": (
        {"architecture": "llama", "rope_scaling": LLAMA3_ROPE_SCALING, "matrix_format": "Q4_0"},
        "rope_to_cache_interleaved_scaled",
    ),
    "gemma3-sliding-window": (
        {"architecture": "gemma3", "num_layers": 6, "head_dim": 32, "rope_theta": 1e6},
        "rope_to_cache_neox_normed",
    ),
}


@pytest.mark.parametrize("name", MODELS)
def test_prefill_then_greedy_decode_follow_the_reference(variant_runner, tmp_path, name):
    arguments, rope_kernel = MODELS[name]
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", **arguments))
    compiled = compile_decoder(model, context_length=64, max_prefill_tokens=16)
    assert rope_kernel in {step.kernel for step in compiled.phases["decode"]}
    prompt = np.random.default_rng(5).integers(0, model.config.vocab_size, 13).tolist()
    program = ProgramRunner(variant_runner, compiled, model.tensors)

    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    expected = Llama(model).forward(prompt, KVCache())[-1]
    assert relative_error(program.read("logits"), expected) < LOGIT_TOLERANCE
    first = int(program.read("top_indices", np.uint32)[0])
    decoded = program.decode_greedy(len(prompt), GREEDY_TOKENS - 1)

    assert [first, *decoded] == generate(Llama(model), prompt, GREEDY_TOKENS)


def test_the_program_reads_each_block_s_head_norms(tmp_path: Path) -> None:
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", architecture="qwen3"))
    decode = compile_decoder(model, context_length=16, max_prefill_tokens=4).phases["decode"]
    ropes = [step for step in decode if step.kernel.startswith("rope_to_cache")]
    assert [(step.buffers["q_norm"], step.buffers["k_norm"]) for step in ropes] == [
        (f"blk.{block}.attn_q_norm.weight", f"blk.{block}.attn_k_norm.weight")
        for block in range(model.config.num_layers)
    ]
    assert all(step.uniforms["eps"] == model.config.rms_norm_eps for step in ropes)


def test_gemma3_compiles_its_windows_rope_bases_and_embedding_scale(tmp_path: Path) -> None:
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", **MODELS["gemma3-sliding-window"][0]))
    decode = compile_decoder(model, context_length=16, max_prefill_tokens=4).phases["decode"]

    def uniform(kernel: str, name: str) -> list[float | str]:
        return [step.uniforms[name] for step in decode if step.kernel == kernel]

    assert uniform("attention", "window") == [4, 4, 4, 4, 4, 0]
    assert uniform("rope_to_cache_neox_normed", "theta") == [1e4] * 5 + [1e6]
    assert uniform("embedding", "scale") == [8.0]  # sqrt(64)
    assert len(uniform("rms_norm_accumulate", "n")) == 2 * 6  # after attention and FFN
    assert len(uniform("geglu", "n")) == 6


@pytest.mark.parametrize(
    "kernel", ["rope_to_cache_interleaved_scaled", "rope_to_cache_neox_normed"]
)
@pytest.mark.parametrize(("n_tokens", "position"), [(1, 300), (13, 0)])
def test_rope_variants(runner, rng, kernel, n_tokens, position):
    """Frequency divisors and head norms at odd shapes: 5 heads of 40 (2 key/value heads)."""
    uniforms = (("n_tokens", n_tokens), ("n_heads", 5), ("n_kv_heads", 2), ("head_dim", 40))
    uniforms += (("position", position), ("theta", 1e6), ("eps", 1e-6))
    assert check_kernel(runner, KernelCase(kernel, None, uniforms), rng) < ROPE_TOLERANCE


@pytest.mark.parametrize(("n_tokens", "causal_offset", "window"), [(1, 40, 7), (23, 0, 5)])
def test_sliding_window_attention(variant_runner, rng, n_tokens, causal_offset, window):
    uniforms = (("n_tokens", n_tokens), ("n_heads", 6), ("n_kv_heads", 2), ("head_dim", 36))
    uniforms += (("kv_len", causal_offset + n_tokens), ("causal", 1))
    uniforms += (("causal_offset", causal_offset), ("window", window))
    assert check_kernel(variant_runner, KernelCase("attention", None, uniforms), rng) < TOLERANCE


@pytest.mark.parametrize(
    ("kernel", "uniforms"),
    [
        ("rms_norm_accumulate", (("n_rows", 3), ("n", 1000), ("eps", 1e-6))),
        ("geglu", (("n", 3 * 300), ("row_len", 300))),
        ("embedding", (("n_embd", 96), ("n_tokens", 5), ("scale", 33.9411))),
    ],
)
def test_gemma3_kernels(variant_runner, rng, kernel, uniforms):
    weight_format = "Q8_0" if kernel == "embedding" else None
    case = KernelCase(kernel, weight_format, uniforms)
    assert check_kernel(variant_runner, case, rng) < TOLERANCE


@pytest.mark.parametrize("name", MODELS)
def test_the_pre_build_kernel_checks_cover_each_architecture(gpu, tmp_path, name):
    """`pagemind check` checks every kernel a program dispatches against numpy (here in the
    plain and the `rows` variants: the subgroup runner checks only kernels that have one)."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", **MODELS[name][0]))
    runners = [
        KernelRunner(gpu, use_subgroups=False, use_rows=rows, use_f16=False)
        for rows in (False, True)
    ]
    lines: list[str] = []
    check_kernels(runners, [compile_decoder(model, 64, max_prefill_tokens=16)], lines.append)
    assert sum(MODELS[name][1] in line for line in lines) >= 2  # in both variants


def test_pagemind_check_passes_a_site_whose_generator_is_gemma3(tmp_path, capsys) -> None:
    root = tiny_assistant_site(tmp_path / "site")
    tiny_llama_gguf(root / "tiny.gguf", **MODELS["gemma3-sliding-window"][0])
    assert run_cli("check", root) == 0
    report = "".join(capsys.readouterr())
    assert "window=4" in report and "ok  kernel geglu" in report
