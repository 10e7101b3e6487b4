"""The browser runtime on the architectures beyond the default model's: Qwen3's head norms,
Llama 3's scaled rope and Gemma 3's block run through runtime/executor.js (Chromium's Web
Worker, Node's Dawn) as the numpy reference says."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.program import compile_decoder
from pagemind.models.generate import generate
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import Llama
from pagemind.models.tiny_model import LLAMA3_ROPE_SCALING, tiny_llama_gguf
from runtime_site import GENERATE, LOAD, add_model, build_runtime_site

NEW_TOKENS = 12
MODELS = {
    "qwen3": {"architecture": "qwen3", "head_dim": 32},
    "llama3": {"architecture": "llama", "rope_scaling": LLAMA3_ROPE_SCALING},
    "gemma3": {"architecture": "gemma3", "num_layers": 6, "head_dim": 32, "rope_theta": 1e6},
}


@pytest.mark.parametrize("name", MODELS)
def test_greedy_tokens_follow_the_reference(runtime_host, tmp_path, name):
    model = read_gguf(tiny_llama_gguf(tmp_path / f"{name}.gguf", **MODELS[name]))
    program = compile_decoder(model, context_length=64, max_prefill_tokens=16)
    root = build_runtime_site(tmp_path / "site")
    urls = add_model(root, model, program, name)
    prompt = np.random.default_rng(9).integers(0, model.config.vocab_size, 20).tolist()
    run = runtime_host(root)

    run(LOAD, urls.__dict__)
    result = run(GENERATE, {"prompt": prompt, "settings": {"maxTokens": NEW_TOKENS}})

    assert result["tokens"] == generate(Llama(model), prompt, NEW_TOKENS)
