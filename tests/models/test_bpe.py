"""The BPE tokenizer built from the GGUF vocabulary gives transformers' ids on real docs.

The reference is the tokenizer transformers builds from the same GGUF, saved by
tests/fixtures/make_llama_reference.py, so no transformers is needed here.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pagemind.errors import PagemindError
from pagemind.models.bpe import bpe_tokenizer, tokenizer_spec
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.registry import resolve_model
from paths import REPO, docs_paragraphs
from tokenizers import Tokenizer

FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="module")
def smollm2() -> GGUFModel:
    return read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO))


@pytest.fixture(scope="module")
def ours(smollm2: GGUFModel) -> Tokenizer:
    return bpe_tokenizer(smollm2.tokenizer_spec)


@pytest.fixture(scope="module")
def reference() -> Tokenizer:
    saved = gzip.decompress((FIXTURES / "smollm2_tokenizer.json.gz").read_bytes())
    return Tokenizer.from_str(saved.decode("utf-8"))


def test_ids_match_transformers_on_every_docs_paragraph(ours: Tokenizer, reference: Tokenizer):
    texts = docs_paragraphs()
    assert len(texts) > 2000  # pagemind's docs and MkDocs'
    mismatched = [
        text
        for text in texts
        if ours.encode(text, add_special_tokens=False).ids
        != reference.encode(text, add_special_tokens=False).ids
    ]
    assert mismatched == []


def test_decoding_restores_every_docs_paragraph(ours: Tokenizer) -> None:
    for text in docs_paragraphs():
        assert ours.decode(ours.encode(text).ids) == text


def test_tricky_strings_have_transformers_ids(ours: Tokenizer) -> None:
    for case in json.loads((FIXTURES / "llama_reference.json").read_text())["tricky"]:
        assert ours.encode(case["text"], add_special_tokens=False).ids == case["ids"], case["text"]


def test_digits_are_split_one_by_one(ours: Tokenizer) -> None:
    """SmolLM2's pre-tokenizer ("smollm") isolates each digit before BPE."""
    assert ours.encode("12345").tokens == ["1", "2", "3", "4", "5"]


def test_control_tokens_stay_whole_and_no_bos_is_added(ours: Tokenizer) -> None:
    encoding = ours.encode("<|im_start|>user\nhi<|im_end|>")
    assert encoding.tokens[0] == "<|im_start|>" and encoding.tokens[-1] == "<|im_end|>"
    assert encoding.ids[0] == 1 and encoding.ids[-1] == 2


def test_spec_is_json_and_carries_what_the_browser_needs(
    smollm2: GGUFModel, ours: Tokenizer
) -> None:
    spec = json.loads(json.dumps(smollm2.tokenizer_spec))
    assert spec["type"] == "byte-level-bpe"
    assert spec["pre_tokenizer"] == "smollm"
    assert spec["split_patterns"][0] == r"\p{N}"
    assert len(spec["vocab"]) == 49152 and len(spec["merges"]) == 48900
    assert (spec["bos_id"], spec["eos_id"], spec["add_bos"]) == (1, 2, False)
    assert {"id": 2, "content": "<|im_end|>", "special": True} in spec["added_tokens"]
    # The spec, after a trip through JSON, still rebuilds the same tokenizer.
    assert bpe_tokenizer(spec).encode("Build 🚀 v2").ids == ours.encode("Build 🚀 v2").ids


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"tokenizer.ggml.model": "llama"}, "tokenizer.ggml.model"),
        ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "jais"}, "tokenizer.ggml.pre"),
    ],
)
def test_unsupported_tokenizers_are_refused_by_key(metadata: dict, key: str) -> None:
    with pytest.raises(PagemindError) as caught:
        tokenizer_spec(metadata, Path("model.gguf"))
    assert caught.value.key == key and caught.value.fix
