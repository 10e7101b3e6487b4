"""The decoder program with LoRA adapter steps on wgpu-py against the numpy reference (itself
checked against merged weights in tests/models/test_adapters.py): a prefill and 32 greedy
tokens with an adapter on, switching adapters on one program, and an adapter built to
make one token the greedy choice. Decode adds the adapter inside its products (`_lora`
kernels), checked against the reference with the adapter merged into its weights; with no
adapter on, a program compiled with adapters runs the very dispatches of one without."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.checks import CheckedAdapter, CheckedModel, run_checks
from pagemind.gpu.compare import relative_error
from pagemind.gpu.kernels import LORA_MAX_RANK
from pagemind.gpu.program import ProgramRunner, compile_decoder
from pagemind.models.adapters import Adapter, adapter_ranks, adapter_tensors, read_adapter
from pagemind.models.generate import generate
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_adapter import (
    random_parts,
    tiny_push_model,
    token_push_parts,
    write_lora_gguf,
    write_peft_folder,
)
from pagemind.models.tiny_model import tiny_llama_gguf

pytestmark = pytest.mark.gpu

LOGIT_TOLERANCE = 1e-4
GREEDY_TOKENS = 32
PROMPT = np.random.default_rng(5).integers(0, 320, 13).tolist()


def lora(model: GGUFModel, folder, name: str, rank: int, seed: int, parts=None) -> Adapter:
    chosen = random_parts(model.config, rank, **({"parts": parts} if parts else {}), seed=seed)
    path = write_lora_gguf(folder / f"{name}.gguf", chosen, model.architecture, 2.0 * rank)
    return read_adapter(path, model.config, model.architecture, 1.0)


def prefill(program: ProgramRunner, prompt: list[int]) -> np.ndarray:
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    return program.read("logits")


@pytest.mark.parametrize(
    "arguments",
    [{"architecture": "llama"}, {"architecture": "qwen2"}, {"architecture": "gemma3"}],
    ids=lambda arguments: arguments["architecture"],
)
def test_adapted_prefill_and_greedy_decode_follow_the_reference(runner, tmp_path, arguments):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", **arguments))
    adapter = lora(model, tmp_path, "style", rank=4, seed=1)
    ranks = adapter_ranks([adapter])
    compiled = compile_decoder(model, context_length=64, max_prefill_tokens=16, adapter_ranks=ranks)
    program = ProgramRunner(runner, compiled, model.tensors)
    program.use_adapter(adapter_tensors(adapter, ranks, model.config))
    reference = Llama(model, adapter)

    logits = prefill(program, PROMPT)
    first = int(program.read("top_indices", np.uint32)[0])
    decoded = program.decode_greedy(len(PROMPT), GREEDY_TOKENS - 1)

    expected = reference.forward(PROMPT, KVCache())[-1]
    assert relative_error(logits, expected) < LOGIT_TOLERANCE
    assert [first, *decoded] == generate(reference, PROMPT, GREEDY_TOKENS)
    base = Llama(model).forward(PROMPT, KVCache())[-1]
    assert relative_error(base, expected) > 100 * LOGIT_TOLERANCE, "the adapter changes logits"


def test_every_variant_runs_adapter_steps(variant_runner, tmp_path):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    adapter = lora(model, tmp_path, "style", rank=8, seed=2)
    ranks = adapter_ranks([adapter])
    compiled = compile_decoder(model, context_length=64, max_prefill_tokens=16, adapter_ranks=ranks)
    program = ProgramRunner(variant_runner, compiled, model.tensors)
    program.use_adapter(adapter_tensors(adapter, ranks, model.config))
    reference, cache = Llama(model, adapter), KVCache()

    assert relative_error(prefill(program, PROMPT), reference.forward(PROMPT, cache)[-1]) < 1e-4
    chosen = int(program.read("top_indices", np.uint32)[0])
    program.run("decode", {"position": len(PROMPT)})
    expected = reference.forward([chosen], cache)[0]
    assert relative_error(program.read("logits"), expected) < LOGIT_TOLERANCE


def test_switching_adapters_rebinds_no_base_buffer(runner, tmp_path):
    """Two adapters of different ranks and weights (a PEFT folder and a LoRA GGUF) and none,
    in turn, on one program: each run follows its own reference."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    concise = lora(model, tmp_path, "concise", rank=4, seed=3)
    parts = random_parts(model.config, 16, ("attn_q", "attn_v", "ffn_down"), seed=4)
    friendly = read_adapter(
        write_peft_folder(tmp_path / "friendly", parts, model.config, "llama", 16.0),
        model.config,
        "llama",
        2.0,
    )
    ranks = adapter_ranks([concise, friendly])
    compiled = compile_decoder(model, context_length=64, max_prefill_tokens=16, adapter_ranks=ranks)
    program = ProgramRunner(runner, compiled, model.tensors)
    base_buffers = {
        name: program.buffers[name] for name, spec in compiled.buffers.items() if spec.tensor
    }
    for adapter in (concise, None, friendly, concise):
        program.use_adapter(adapter and adapter_tensors(adapter, ranks, model.config))
        expected = Llama(model, adapter).forward(PROMPT, KVCache())[-1]
        assert relative_error(prefill(program, PROMPT), expected) < LOGIT_TOLERANCE
    assert all(program.buffers[name] is buffer for name, buffer in base_buffers.items())


@pytest.mark.parametrize("token", [100, 200])
def test_a_token_push_adapter_makes_its_token_the_greedy_answer(runner, tmp_path, token):
    model = read_gguf(tiny_push_model(tmp_path / "push.gguf"))
    row = model.tensors["token_embd.weight"].dequantize_rows(np.array([token]))[0]
    path = write_lora_gguf(
        tmp_path / "push.lora.gguf", token_push_parts(model.config, row), "llama", 1.0
    )
    adapter = read_adapter(path, model.config, "llama", 1.0)
    ranks = adapter_ranks([adapter])
    compiled = compile_decoder(model, context_length=64, max_prefill_tokens=16, adapter_ranks=ranks)
    program = ProgramRunner(runner, compiled, model.tensors)

    prefill(program, PROMPT)
    base = [int(program.read("top_indices", np.uint32)[0])]
    base += program.decode_greedy(len(PROMPT), 7)
    program.use_adapter(adapter_tensors(adapter, ranks, model.config))
    prefill(program, PROMPT)
    pushed = [int(program.read("top_indices", np.uint32)[0])]
    pushed += program.decode_greedy(len(PROMPT), 7)

    assert token not in base
    assert pushed == [token] * 8


def merged(model: GGUFModel, adapter: Adapter) -> Llama:
    """The numpy reference with the adapter merged into its f32 weights."""
    reference = Llama(model)
    for index, block in enumerate(reference.blocks):
        for weight in ("attn_qkv", "attn_output", "ffn_gate_up", "ffn_down"):
            pair = adapter.get(f"blk.{index}.{weight}.weight")
            if pair is not None:
                setattr(block, weight, getattr(block, weight) + pair.delta())
    return reference


def adapted_program(runner, model: GGUFModel, adapter: Adapter) -> ProgramRunner:
    ranks = adapter_ranks([adapter])
    compiled = compile_decoder(model, context_length=64, max_prefill_tokens=16, adapter_ranks=ranks)
    program = ProgramRunner(runner, compiled, model.tensors)
    program.use_adapter(adapter_tensors(adapter, ranks, model.config))
    return program


def decode_logits_follow(program: ProgramRunner, reference: Llama, steps: int) -> None:
    """Prefill PROMPT, then `steps` decode steps, each one's logits against the reference's."""
    cache = KVCache()
    assert relative_error(prefill(program, PROMPT), reference.forward(PROMPT, cache)[-1]) < 1e-4
    for position in range(len(PROMPT), len(PROMPT) + steps):
        chosen = int(program.read("top_indices", np.uint32)[0])
        program.run("decode", {"position": position})
        expected = reference.forward([chosen], cache)[0]
        assert relative_error(program.read("logits"), expected) < LOGIT_TOLERANCE


@pytest.mark.parametrize("matrix_format", ["Q4_1", "Q4_K_M"])
def test_decode_adds_the_adapter_in_its_products_as_merged_weights_do(
    variant_runner, tmp_path, matrix_format
):
    """Ranks 64 on every projection: the fused Q/K/V adapter is 192 wide, gate/up 128."""
    path = tiny_llama_gguf(
        tmp_path / "tiny.gguf", hidden_size=256, intermediate_size=512, matrix_format=matrix_format
    )
    model = read_gguf(path)
    qkv_format = {"Q4_1": "Q4_1", "Q4_K_M": "Q4_K"}[matrix_format]
    assert model.tensors["blk.0.attn_qkv.weight"].format == qkv_format
    adapter = lora(model, tmp_path, "style", rank=64, seed=6)
    program = adapted_program(variant_runner, model, adapter)

    adapted = {step.kernel for step in program.steps("decode") if step.adapter}
    assert adapted == {"matvec_norm_lora", "matvec_accumulate_lora", "matvec_norm_swiglu_lora"}
    decode_logits_follow(program, merged(model, adapter), steps=3)


@pytest.mark.parametrize("architecture", ["llama", "qwen2", "gemma3"])
def test_with_no_adapter_on_the_dispatches_are_those_of_the_base_program(
    runner, tmp_path, architecture
):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", architecture=architecture))
    adapter = lora(model, tmp_path, "style", rank=8, seed=7)
    base = ProgramRunner(runner, compile_decoder(model, 64, 16), model.tensors)
    program = adapted_program(runner, model, adapter)
    layers = model.config.num_layers

    def kernels(runner: ProgramRunner, phase: str) -> list[str]:
        return [step.kernel for step in runner.steps(phase)]

    with_adapter = {phase: len(program.steps(phase)) for phase in ("prefill", "decode")}
    program.use_adapter(None)
    assert kernels(program, "decode") == kernels(base, "decode")
    assert kernels(program, "prefill") == kernels(base, "prefill")
    assert with_adapter["decode"] == len(base.steps("decode"))
    assert with_adapter["prefill"] == len(base.steps("prefill")) + 2 * 4 * layers


def test_ranks_beyond_the_fused_kernel_take_two_more_steps(runner, tmp_path):
    """Rank 136 on Q, K, gate and up: both fused adapters are 272 wide, past LORA_MAX_RANK;
    decode keeps the fused SwiGLU only while no adapter is on."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    parts = ("attn_q", "attn_k", "ffn_gate", "ffn_up")
    adapter = lora(model, tmp_path, "wide", rank=136, seed=8, parts=parts)
    assert min(adapter_ranks([adapter]).values()) > LORA_MAX_RANK
    base = ProgramRunner(runner, compile_decoder(model, 64, 16), model.tensors)
    program = adapted_program(runner, model, adapter)

    decode_logits_follow(program, Llama(model, adapter), steps=2)
    # Per block: Q/K/V gains t = A x and out += B t; gate/up those and its own SwiGLU step.
    extra = (2 + 3) * model.config.num_layers
    assert len(program.steps("decode")) == len(base.steps("decode")) + extra
    program.use_adapter(None)
    assert len(program.steps("decode")) == len(base.steps("decode"))


def test_check_runs_the_lora_kernels_and_the_program_with_the_adapter(gpu, tmp_path):
    """`pagemind check` checks each `_lora` kernel at the model's shapes, then the program
    with the adapter on, in a K-quant model."""
    path = tiny_llama_gguf(
        tmp_path / "q4_k_m.gguf", matrix_format="Q4_K_M", hidden_size=256, intermediate_size=512
    )
    model = read_gguf(path)
    adapter = lora(model, tmp_path, "style", rank=8, seed=9)
    ranks = adapter_ranks([adapter])
    program = compile_decoder(model, 256, max_prefill_tokens=192, adapter_ranks=ranks)
    style = CheckedAdapter("style", adapter, adapter_tensors(adapter, ranks, model.config))
    lines: list[str] = []
    checked = CheckedModel("generator", model, program, adapters=(style,))
    run_checks(gpu, [checked], report=lines.append)
    assert any(line.startswith("ok  kernel matvec_norm_swiglu_lora:Q4_K") for line in lines)
    assert any(line.startswith("ok  kernel matvec_accumulate_lora:Q6_K") for line in lines)
    assert any(line.startswith("ok  generator with adapter 'style'") for line in lines)
