"""The SentencePiece tokenizer (models/spm.py) gives SentencePiece's own ids, decodes what it
encodes, and is what a GGUF with a "llama" vocabulary gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.errors import PagemindError
from pagemind.models.gguf_source import read_gguf
from pagemind.models.gguf_source import tokenizer_spec as gguf_tokenizer_spec
from pagemind.models.spm import CONTROL, SPACE, SpmTokenizer, tokenizer_spec
from pagemind.models.tiny_model import tiny_llama_gguf
from paths import REPO

REFERENCE = json.loads((REPO / "tests/fixtures/spm_reference.json").read_text(encoding="utf-8"))


def reference_spec(**flags: bool) -> dict:
    """The fixture's vocabulary as a GGUF's metadata gives it (Gemma's flags by default)."""
    metadata = {
        "tokenizer.ggml.tokens": REFERENCE["vocab"],
        "tokenizer.ggml.scores": REFERENCE["scores"],
        "tokenizer.ggml.token_type": REFERENCE["token_types"],
        "tokenizer.ggml.bos_token_id": REFERENCE["bos_id"],
        "tokenizer.ggml.eos_token_id": REFERENCE["eos_id"],
        "tokenizer.ggml.unknown_token_id": REFERENCE["unk_id"],
        "tokenizer.ggml.add_space_prefix": flags.get("add_space_prefix", False),
        "tokenizer.ggml.add_bos_token": flags.get("add_bos", False),
    }
    return tokenizer_spec(metadata, Path("model.gguf"))


def test_ids_equal_sentencepiece() -> None:
    tokenizer = SpmTokenizer(reference_spec())
    cases = REFERENCE["cases"]
    assert len(cases) > 50
    assert [tokenizer.encode(case["text"]) for case in cases] == [case["ids"] for case in cases]


def test_a_space_prefix_leads_the_text_and_follows_each_literal_token() -> None:
    """As llama.cpp: an added "▁" where the text starts and after each control or
    user-defined token, which SentencePiece itself adds only at the start."""
    plain, prefixed = (
        SpmTokenizer(reference_spec()),
        SpmTokenizer(reference_spec(add_space_prefix=True)),
    )
    text = "build the site"

    assert prefixed.encode(text) == plain.encode(" " + text)
    assert prefixed.encode(f"<start_of_turn>{text}") == [
        plain.ids["<start_of_turn>"],
        *plain.encode(" " + text),
    ]
    assert prefixed.decode(prefixed.encode(text)) == text


def test_decoding_gives_back_the_text() -> None:
    tokenizer = SpmTokenizer(reference_spec())
    texts = [case["text"] for case in REFERENCE["cases"] if SPACE not in case["text"]]

    assert [tokenizer.decode(tokenizer.encode(text)) for text in texts] == texts


def test_merges_by_score_and_falls_back_to_bytes_on_a_hand_checked_vocabulary() -> None:
    pieces = ["<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", SPACE, "a", "b", "ab", "ba", f"{SPACE}a"]
    types = [2, CONTROL, CONTROL, 6, 6, 1, 1, 1, 1, 1, 1]
    scores = [0, 0, 0, 0, 0, -1, -2, -3, -10, -5, -4]
    spec = tokenizer_spec(
        {
            "tokenizer.ggml.tokens": pieces,
            "tokenizer.ggml.scores": scores,
            "tokenizer.ggml.token_type": types,
        },
        Path("model.gguf"),
    )
    tokenizer = SpmTokenizer(spec)

    # "aba": "ba" (-5) beats "ab" (-10); the space prefix and "▁a" (-4) come first; "é" has
    # no piece: its UTF-8 bytes; "c" has neither a piece nor a byte piece: <unk>.
    assert tokenizer.encode("aba") == [1, 10, 9]  # <s> ▁a ba
    assert tokenizer.encode("é c", add_bos=False) == [5, 3, 4, 5, 0]
    assert tokenizer.decode([1, 10, 9, 2]) == "aba"
    assert tokenizer.decode([1, 10, 9, 2], skip_special=False) == "<s> aba</s>"


def test_special_tokens_are_whole_and_control_ones_leave_untrusted_text() -> None:
    spec = reference_spec(add_bos=True)
    prompt = PromptTokenizer(spec)
    start = spec["vocab"].index("<start_of_turn>")

    assert [t["content"] for t in spec["added_tokens"] if not t["special"]] == [
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    assert prompt.encode("<start_of_turn>user")[:2] == [spec["bos_id"], start]
    assert prompt.plain("<s>hi</s>") == "hi"
    assert prompt.truncate("building the documentation site", 3) == prompt.decode(
        prompt.ids("building the documentation site")[:3]
    )


def test_a_gguf_with_a_llama_vocabulary_reads_as_sentencepiece(tmp_path: Path) -> None:
    model = read_gguf(
        tiny_llama_gguf(tmp_path / "gemma.gguf", architecture="gemma3", tokenizer="spm")
    )
    spec = model.tokenizer_spec

    assert spec["type"] == "spm"
    assert (spec["add_bos"], spec["add_space_prefix"]) == (True, False)
    assert "tokenizer.ggml.scores" not in model.metadata
    # BOS comes from the tokenizer, so the template's pieces hold none.
    assert model.chat["system_prefix"] == "<start_of_turn>user\n"
    assert model.chat["stop_ids"] == [
        spec["vocab"].index("<eos>"),
        spec["vocab"].index("<end_of_turn>"),
    ]


def test_scores_that_do_not_match_the_tokens_are_named() -> None:
    metadata = {"tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.scores": [0.0]}
    with pytest.raises(PagemindError) as error:
        tokenizer_spec(metadata, Path("model.gguf"))
    assert error.value.key == "tokenizer.ggml.scores"
    assert "1 entries for 2 tokens" in error.value.message
    assert "convert_hf_to_gguf" in error.value.fix


def test_an_unknown_tokenizer_type_is_refused_with_its_key() -> None:
    metadata = {"tokenizer.ggml.model": "bert", "tokenizer.ggml.tokens": ["a"]}
    with pytest.raises(PagemindError) as error:
        gguf_tokenizer_spec(metadata, Path("model.gguf"))
    assert error.value.key == "tokenizer.ggml.model"
    assert "SentencePiece ('llama')" in error.value.message
