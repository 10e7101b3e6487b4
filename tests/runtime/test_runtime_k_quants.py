"""The browser runtime on models in the formats people publish: a Q4_K_M file (Q4_K, Q6_K,
and block 1's Q/K/V fused in Q8_0) and Q5_0 matrices (llama-quantize's Q4_K_M fallback for
rows that are not whole super-blocks), run through runtime/executor.js (Chromium's Web
Worker, Node's Dawn) as the numpy reference says."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.program import compile_decoder
from pagemind.models.generate import generate
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import Llama
from pagemind.models.tiny_model import tiny_llama_gguf
from runtime_site import GENERATE, LOAD, add_model, build_runtime_site

NEW_TOKENS = 12
K_QUANT_SHAPES = {"hidden_size": 256, "intermediate_size": 512}  # rows of whole super-blocks


@pytest.mark.parametrize("matrix_format", ["Q4_K_M", "Q5_0"])
def test_greedy_tokens_follow_the_reference(runtime_host, tmp_path, matrix_format):
    path = tiny_llama_gguf(tmp_path / "model.gguf", matrix_format=matrix_format, **K_QUANT_SHAPES)
    model = read_gguf(path)
    program = compile_decoder(model, context_length=64, max_prefill_tokens=16)
    root = build_runtime_site(tmp_path / "site")
    urls = add_model(root, model, program, "model")
    prompt = np.random.default_rng(9).integers(0, model.config.vocab_size, 20).tolist()
    run = runtime_host(root)

    run(LOAD, urls.__dict__)
    result = run(GENERATE, {"prompt": prompt, "settings": {"maxTokens": NEW_TOKENS}})

    assert result["tokens"] == generate(Llama(model), prompt, NEW_TOKENS)
