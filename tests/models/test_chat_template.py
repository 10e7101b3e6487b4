"""Chat templates cut into role pieces that rebuild the template's own prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pagemind.errors import PagemindError
from pagemind.models.chat_template import (
    ChatTemplateError,
    assemble,
    chat_pieces,
    render,
    template_pieces,
)
from pagemind.models.gguf_source import read_gguf
from pagemind.models.registry import resolve_model
from pagemind.models.tiny_model import GEMMA3_TEMPLATE
from paths import REPO

REFERENCE = json.loads((REPO / "tests/fixtures/llama_reference.json").read_text(encoding="utf-8"))

# Llama 3 style: a BOS token, a header per role, and loop controls.
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['content'] == '' %}{% continue %}{% endif %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}"
    "{{ message['content'] | trim }}{{ '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)


def test_default_model_pieces_are_chatml() -> None:
    model = read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO))
    assert model.chat == {
        "system_prefix": "<|im_start|>system\n",
        "system_suffix": "<|im_end|>\n",
        "user_prefix": "<|im_start|>user\n",
        "user_suffix": "<|im_end|>\n",
        "assistant_prefix": "<|im_start|>assistant\n",
        "assistant_suffix": "<|im_end|>\n",
        "generation_prompt": "<|im_start|>assistant\n",
        "stop_strings": ["<|im_end|>"],
        "stop_ids": [2],
    }
    # transformers' apply_chat_template gave this prompt (tests/fixtures).
    chat = REFERENCE["chat"]
    assert assemble(model.chat, chat["messages"]) == chat["text"]


def test_pieces_rebuild_a_template_with_bos_and_loop_controls() -> None:
    pieces = chat_pieces(LLAMA3_TEMPLATE, bos="<|begin_of_text|>", eos="<|eot_id|>")
    assert (
        pieces["system_prefix"] == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    )
    assert pieces["user_suffix"] == "<|eot_id|>"
    assert pieces["generation_prompt"] == "<|start_header_id|>assistant<|end_header_id|>\n\n"
    assert pieces["stop_strings"] == ["<|eot_id|>"]
    messages = [
        {"role": "system", "content": "Answer from the docs."},
        {"role": "user", "content": "How do I deploy?"},
        {"role": "assistant", "content": "Run `pagemind gh-deploy`."},
        {"role": "user", "content": "To a project page?"},
    ]
    expected = render(LLAMA3_TEMPLATE, messages, bos="<|begin_of_text|>", eos="", generate=True)
    assert assemble(pieces, messages) == expected


def test_gemma_folds_the_system_message_into_the_first_user_turn() -> None:
    pieces = chat_pieces(GEMMA3_TEMPLATE, bos="<bos>", eos="<eos>")
    messages = [
        {"role": "system", "content": "Answer from the docs."},
        {"role": "user", "content": "How do I deploy?"},
        {"role": "assistant", "content": "Run `pagemind gh-deploy`."},
        {"role": "user", "content": "To a project page?"},
    ]

    assert pieces["system_into_first_user"] is True
    assert (pieces["system_prefix"], pieces["system_suffix"]) == (
        "<bos><start_of_turn>user\n",
        "\n\n",
    )
    assert pieces["assistant_prefix"] == "<start_of_turn>model\n"
    assert pieces["stop_strings"] == ["<end_of_turn>", "<eos>"]
    assert assemble(pieces, messages) == (
        "<bos><start_of_turn>user\nAnswer from the docs.\n\nHow do I deploy?<end_of_turn>\n"
        "<start_of_turn>model\nRun `pagemind gh-deploy`.<end_of_turn>\n"
        "<start_of_turn>user\nTo a project page?<end_of_turn>\n<start_of_turn>model\n"
    )
    assert assemble(pieces, messages) == render(
        GEMMA3_TEMPLATE, messages, bos="<bos>", eos="<eos>", generate=True
    )


def test_a_template_that_drops_the_system_message_is_refused() -> None:
    template = (
        "{% for message in messages %}{% if message['role'] != 'system' %}"
        "[{{ message['role'] }}]{{ message['content'] }}{% endif %}{% endfor %}"
    )
    with pytest.raises(ChatTemplateError, match="drops the system message"):
        chat_pieces(template, bos="", eos="</s>")


def test_template_that_depends_on_the_turn_count_is_refused() -> None:
    """The last message rendered differently cannot be expressed as fixed pieces."""
    template = (
        "{% for message in messages %}[{{ message['role'] }}]{{ message['content'] }}"
        "{% if loop.last %}<last>{% endif %}{% endfor %}"
    )
    with pytest.raises(ChatTemplateError):
        chat_pieces(template, bos="", eos="</s>")


def test_template_raising_becomes_a_pagemind_error_naming_the_key(tmp_path: Path) -> None:
    template = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
    )
    with pytest.raises(PagemindError) as caught:
        template_pieces(template, "", "</s>", tmp_path / "model.gguf")
    assert caught.value.key == "tokenizer.chat_template"
    assert "no system role" in caught.value.message


def test_templates_run_sandboxed() -> None:
    with pytest.raises(ChatTemplateError):
        render("{{ ''.__class__.__mro__ }}", [], bos="", eos="", generate=False)
