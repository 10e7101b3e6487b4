"""A tiny random decoder and a runtime site serving it, for the runtime tests; the hosts that
run the runtime (Chromium's Web Worker, Node's Dawn)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from node_runtime import NodeRuntime
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES
from pagemind.gpu.program import compile_decoder
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.tiny_model import tiny_llama_gguf
from runtime_site import ModelUrls, RunCheck, add_model, build_runtime_site

MAX_PREFILL = 16


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> GGUFModel:
    folder = tmp_path_factory.mktemp("tiny")
    # Untied Q4_1 matrices with an F16 head: three weight formats through one program.
    return read_gguf(tiny_llama_gguf(folder / "tiny.gguf", tied_embeddings=False))


@pytest.fixture
def tiny_site(tmp_path, tiny_model) -> tuple:
    """(site folder, the model's URLs in it); prompts over MAX_PREFILL tokens take chunks."""
    program = compile_decoder(
        tiny_model, context_length=64, max_prefill_tokens=MAX_PREFILL, top_k=SAMPLING_CANDIDATES
    )
    root = build_runtime_site(tmp_path)
    urls: ModelUrls = add_model(root, tiny_model, program, "tiny")
    return root, urls


@pytest.fixture(params=[pytest.param("chromium", marks=pytest.mark.browser), "node"])
def runtime_host(request, static_server) -> Iterator[Callable[[Path], RunCheck]]:
    """Call with a runtime site's folder: runs checks in Chromium's harness page (the runtime
    in its Web Worker; console errors fail the check) or under Node on Dawn."""
    nodes: list[NodeRuntime] = []

    def open_site(root: Path) -> RunCheck:
        url = static_server(root)
        if request.param == "node":
            nodes.append(NodeRuntime(url))
            return nodes[-1].run
        page = request.getfixturevalue("page")
        page.goto(url)
        page.wait_for_function("document.title === 'ready'")

        def run(check: str, data: Any = None) -> Any:
            result = page.evaluate(check, data)
            assert page.console_errors == []
            return result

        return run

    yield open_site
    for node in nodes:
        node.close()
