"""runtime/prompt.js (under Node) assembles the same prompt as pagemind.assistant.prompt for a
model with a SentencePiece vocabulary and Gemma's template, which writes the system message
into the first user turn (a tiny random Gemma 3 GGUF)."""

from __future__ import annotations

from pathlib import Path

from pagemind.models.gguf_source import read_gguf
from pagemind.models.tiny_model import tiny_llama_gguf
from test_prompt_parity import cases, prompts_both_ways


def test_browser_and_terminal_prompts_are_identical(tmp_path: Path) -> None:
    path = tiny_llama_gguf(tmp_path / "gemma.gguf", architecture="gemma3", tokenizer="spm")

    browser, expected = prompts_both_ways(read_gguf(path))

    assert browser["results"] == expected
    system = "<start_of_turn>user\n" + cases()[0]["settings"]["system_prompt"] + "\n\n"
    assert all(text.startswith(system) for text, *_ in expected)
    # The first user message follows the system's text in the same turn.
    assert not any(text.startswith(system + "<start_of_turn>") for text, *_ in expected)
