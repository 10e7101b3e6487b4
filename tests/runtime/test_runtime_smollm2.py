"""The default generator, SmolLM2-135M-Instruct, answering a chat prompt in the browser
runtime on SwiftShader: the same greedy tokens as the numpy reference, while the page stays
responsive (the Web Worker does the work); and the same tokens from the runtime under Node
on Dawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from node_runtime import NodeRuntime
from pagemind.gpu.program import compile_decoder
from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.chat_template import assemble
from pagemind.models.generate import generate
from pagemind.models.llama import Llama
from pagemind.models.registry import load_model, resolve_model
from runtime_site import GENERATE, LOAD, add_model, build_runtime_site

QUESTION = "Explain in two sentences what a static site generator does."  # 20 prompt tokens
NEW_TOKENS = 24

# Starts generating from the chat text and resolves once the first token has streamed in;
# the answer lands in window.answer, and window.ticks counts main-thread timer callbacks.
START = """
async (text) => {
  window.streamed = [];
  window.ticks = 0;
  const firstToken = new Promise((resolve) => {
    window.answer = window.rt.generate(text, window.settings, (token) => {
      window.streamed.push(token);
      resolve();
    });
  });
  await firstToken;
  setInterval(() => window.ticks++, 10);
}
"""


@pytest.fixture(scope="module")
def smollm2():
    return load_model(resolve_model("smollm2-135m-instruct", "generator", Path.cwd()))


@pytest.fixture(scope="module")
def chat(smollm2) -> tuple[str, list[int]]:
    """The chat prompt's text and the reference's greedy answer to it."""
    text = assemble(smollm2.chat, [{"role": "user", "content": QUESTION}])
    prompt = bpe_tokenizer(smollm2.tokenizer_spec).encode(text).ids
    expected = generate(Llama(smollm2), prompt, NEW_TOKENS, stop_ids=smollm2.chat["stop_ids"])
    assert len(expected) == NEW_TOKENS
    return text, expected


@pytest.fixture
def smollm2_site(tmp_path, smollm2):
    program = compile_decoder(smollm2, context_length=256, max_prefill_tokens=64)
    root = build_runtime_site(tmp_path)
    return root, add_model(root, smollm2, program, "smollm2")


@pytest.mark.browser
def test_chat_answer_matches_the_reference_and_the_page_stays_responsive(
    page, static_server, smollm2_site, smollm2, chat
):
    root, urls = smollm2_site
    text, expected = chat
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")
    page.evaluate(
        "async (urls) => { window.rt = await window.createRuntime(); await window.rt.load(urls); }",
        urls.__dict__,
    )
    settings = {"maxTokens": NEW_TOKENS, "stopIds": smollm2.chat["stop_ids"]}
    page.evaluate("(settings) => { window.settings = settings; }", settings)

    page.evaluate(START, text)
    mid_answer = page.evaluate("window.streamed.length")  # the page answers meanwhile
    result = page.evaluate("window.answer")
    ticks = page.evaluate("window.ticks")

    assert result["tokens"] == expected
    assert mid_answer < NEW_TOKENS
    assert ticks > 0, "timers ran on the page while the worker generated"
    assert result["text"] == bpe_tokenizer(smollm2.tokenizer_spec).decode(expected)
    assert page.console_errors == []


def test_the_same_answer_under_node(static_server, smollm2_site, smollm2, chat):
    root, urls = smollm2_site
    text, expected = chat
    node = NodeRuntime(static_server(root))
    try:
        node.run(LOAD, urls.__dict__)
        settings = {"maxTokens": NEW_TOKENS, "stopIds": smollm2.chat["stop_ids"]}
        result = node.run(GENERATE, {"prompt": text, "settings": settings})
    finally:
        node.close()
    assert result["tokens"] == expected
