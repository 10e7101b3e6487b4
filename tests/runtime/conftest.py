"""A tiny random decoder and a runtime site serving it, for the runtime tests."""

from __future__ import annotations

import pytest
from pagemind.gpu.program import compile_decoder
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.tiny_model import tiny_llama_gguf
from runtime_site import ModelUrls, add_model, build_runtime_site

MAX_PREFILL = 16


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> GGUFModel:
    folder = tmp_path_factory.mktemp("tiny")
    # Untied Q4_1 matrices with an F16 head: three weight formats through one program.
    return read_gguf(tiny_llama_gguf(folder / "tiny.gguf", tied_embeddings=False))


@pytest.fixture
def tiny_site(tmp_path, tiny_model) -> tuple:
    """(site folder, the model's URLs in it); prompts over MAX_PREFILL tokens take chunks."""
    program = compile_decoder(tiny_model, context_length=64, max_prefill_tokens=MAX_PREFILL)
    root = build_runtime_site(tmp_path)
    urls: ModelUrls = add_model(root, tiny_model, program, "tiny")
    return root, urls
