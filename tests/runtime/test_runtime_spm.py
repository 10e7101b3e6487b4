"""A site whose generator is a Gemma 3 GGUF with a SentencePiece vocabulary builds through
the CLI and answers in Chromium: the page's tokenizer (runtime/tokenizer_spm.js) reads the
built manifest's chat prompt as the same ids as Python, and the runtime's Web Worker
generates from the text what the numpy reference generates from those ids."""

from __future__ import annotations

import json

import pytest
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.models.chat_template import assemble
from pagemind.models.generate import generate
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import Llama
from pagemind.models.tiny_model import tiny_llama_gguf
from runtime_site import GENERATE, HARNESS_PAGE, LOAD
from site_helpers import run_cli, tiny_assistant_site

NEW_TOKENS = 8
MESSAGES = [
    {"role": "system", "content": "Answer from the docs."},
    {"role": "user", "content": "Where does the site go?  Into site/ ✓"},
]
# The chat prompt of the built manifest, and its ids as the page's own tokenizer reads them.
PAGE_PROMPT = """
async ({manifestUrl, messages}) => {
  const { SpmTokenizer } = await import("./_pagemind/runtime/tokenizer_spm.js");
  const { assemble } = await import("./_pagemind/runtime/prompt.js");
  const manifest = await (await fetch(manifestUrl)).json();
  const text = assemble(manifest.chat, messages);
  return { text, ids: new SpmTokenizer(manifest.tokenizer).encode(text) };
}
"""


@pytest.mark.browser
def test_a_gemma_site_builds_and_answers_as_in_python(page, static_server, tmp_path):
    root = tiny_assistant_site(tmp_path / "docs")
    gemma = dict(architecture="gemma3", tokenizer="spm", num_layers=6, head_dim=32)
    model = read_gguf(tiny_llama_gguf(root / "tiny.gguf", **gemma))
    assert run_cli("build", root) == 0
    site = root / "site"
    (site / "harness.html").write_text(HARNESS_PAGE, encoding="utf-8")
    entry = json.loads((site / "_pagemind" / "site.json").read_text(encoding="utf-8"))
    assistant = json.loads((site / "_pagemind" / entry["assistant"]).read_text(encoding="utf-8"))
    generator = assistant["models"]["generator"]
    urls = {
        key: f"_pagemind/{generator[name]}"
        for key, name in (("manifestUrl", "manifest"), ("programUrl", "program"))
    }
    text = assemble(model.chat, MESSAGES)
    ids = PromptTokenizer(model.tokenizer_spec).encode(text)
    page.goto(static_server(site) + "harness.html")
    page.wait_for_function("document.title === 'ready'")

    built = page.evaluate(PAGE_PROMPT, {"manifestUrl": urls["manifestUrl"], "messages": MESSAGES})
    page.evaluate(LOAD, urls)
    answer = page.evaluate(GENERATE, {"prompt": text, "settings": {"maxTokens": NEW_TOKENS}})

    assert text.startswith("<start_of_turn>user\nAnswer from the docs.\n\nWhere")
    assert built == {"text": text, "ids": ids}
    assert ids[:2] == [
        model.tokenizer_spec["bos_id"],
        model.tokenizer_spec["vocab"].index("<start_of_turn>"),
    ]
    assert answer["tokens"] == generate(Llama(model), ids, NEW_TOKENS)
    assert answer["text"] == PromptTokenizer(model.tokenizer_spec).decode(answer["tokens"])
    assert page.console_errors == []
