"""WordPiece built from the manifest spec gives the ids transformers gives, on real docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pagemind.errors import PagemindError
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.wordpiece import wordpiece_spec, wordpiece_tokenizer
from paths import REPO, docs_paragraphs
from tokenizers import Tokenizer

REFERENCE = json.loads((REPO / "tests/fixtures/bert_reference.json").read_text(encoding="utf-8"))
MAX_LENGTH = REFERENCE["max_length"]


@pytest.fixture(scope="module")
def tokenizer_file() -> Path:
    folder = DEFAULT_MODELS["all-minilm-l6-v2"].path()
    if folder is None:
        pytest.skip(
            f"default embedder missing: {DEFAULT_MODELS['all-minilm-l6-v2'].install_command}"
        )
    return folder / "tokenizer.json"


@pytest.fixture(scope="module")
def spec(tokenizer_file: Path) -> dict:
    raw = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    # Through JSON and back: the browser sees exactly this.
    return json.loads(json.dumps(wordpiece_spec(raw, max_length=MAX_LENGTH, file=tokenizer_file)))


@pytest.fixture(scope="module")
def ours(spec: dict) -> Tokenizer:
    return wordpiece_tokenizer(spec)


def test_same_ids_as_transformers_on_tricky_strings(ours: Tokenizer) -> None:
    for text, expected in zip(
        REFERENCE["tricky_strings"] + REFERENCE["sentences"],
        REFERENCE["tricky_token_ids"] + REFERENCE["sentence_token_ids"],
        strict=True,
    ):
        assert ours.encode(text).ids == expected, text


def test_same_ids_as_the_model_tokenizer_on_every_docs_paragraph(
    ours: Tokenizer, tokenizer_file: Path
) -> None:
    reference = Tokenizer.from_file(str(tokenizer_file))
    reference.no_padding()
    reference.enable_truncation(MAX_LENGTH)
    paragraphs = docs_paragraphs()
    assert len(paragraphs) > 2000  # pagemind's docs and MkDocs'
    mismatched = [
        text
        for text, ids, expected in zip(
            paragraphs,
            ours.encode_batch(paragraphs),
            reference.encode_batch(paragraphs),
            strict=True,
        )
        if ids.ids != expected.ids
    ]
    assert mismatched == []


def test_spec_names_the_special_ids(spec: dict) -> None:
    vocab = spec["vocab"]
    assert len(vocab) == 30522
    assert [vocab[spec[key]] for key in ("cls_id", "sep_id", "pad_id", "unk_id")] == [
        "[CLS]",
        "[SEP]",
        "[PAD]",
        "[UNK]",
    ]
    assert spec["lowercase"] and spec["strip_accents"]
    assert spec["continuing_subword_prefix"] == "##"
    assert spec["max_length"] == MAX_LENGTH


def test_long_text_is_truncated_to_max_length_ending_in_sep(ours: Tokenizer, spec: dict) -> None:
    ids = ours.encode("documentation " * 1000).ids
    assert len(ids) == MAX_LENGTH
    assert (ids[0], ids[-1]) == (spec["cls_id"], spec["sep_id"])


def test_a_bpe_tokenizer_is_refused_with_its_key(tmp_path: Path) -> None:
    bpe = {"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": None}
    with pytest.raises(PagemindError) as error:
        wordpiece_spec(bpe, max_length=128, file=tmp_path / "tokenizer.json")
    assert error.value.key == "model.type"
    assert "tokenizer.json" in str(error.value)
    assert "WordPiece" in str(error.value)
