"""The decoder program with LoRA adapter steps on wgpu-py against the numpy reference (itself
checked against merged weights in tests/models/test_adapters.py): a prefill and 32 greedy
tokens with an adapter on, switching adapters on one program, and an adapter built to
make one token the greedy choice."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.compare import relative_error
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
