"""runtime/tokenizer_spm.js (under Node) gives the ids and text of pagemind.models.spm for the
same spec: the SentencePiece-trained vocabulary of tests/fixtures/spm_reference.json, on every
paragraph of the docs corpora and on tricky strings, with and without the space prefix."""

from __future__ import annotations

import json

import pytest
from node_script import run_module
from pagemind.models.spm import SpmTokenizer, tokenizer_spec
from paths import REPO, docs_paragraphs

SPM_JS = (REPO / "runtime" / "tokenizer_spm.js").as_uri()
SCRIPT = f"""
import {{ readFileSync }} from "node:fs";
import {{ SpmTokenizer }} from {json.dumps(SPM_JS)};
const {{ spec, texts, ids }} = JSON.parse(readFileSync(0, "utf8"));
const tokenizer = new SpmTokenizer(spec);
const stream = (sequence) => {{
  const decoder = tokenizer.streamDecoder();
  return sequence.map((id) => decoder.push(id)).join("") + decoder.flush();
}};
process.stdout.write(JSON.stringify({{
  encoded: texts.map((text) => tokenizer.encode(text)),
  decoded: ids.map((sequence) => tokenizer.decode(sequence)),
  streamed: ids.map(stream),
}}));
"""
FIXTURE = json.loads((REPO / "tests/fixtures/spm_reference.json").read_text(encoding="utf-8"))
TRICKY = [
    "",
    "   ",
    "a" + " " * 40 + "b" + "\n" * 5 + "c",
    "👨\u200d👩\u200d👧\u200d👦 family, 🏳️\u200d🌈 flag, 👍🏽 thumbs, 𠀋 outside the BMP",
    "東京の天気は晴れです。 é composed, e\u0301 combining",
    "<start_of_turn>user\n<end_of_turn><start_of_turn><s>x</s>",
    "control\x00chars\x07and\x1b[0mansi\r\n\t",
    "```python\nprint('hi')  # comment\n```",
]


@pytest.mark.parametrize("add_space_prefix", [False, True])
def test_ids_and_text_equal_python(add_space_prefix: bool) -> None:
    metadata = {
        "tokenizer.ggml.tokens": FIXTURE["vocab"],
        "tokenizer.ggml.scores": FIXTURE["scores"],
        "tokenizer.ggml.token_type": FIXTURE["token_types"],
        "tokenizer.ggml.bos_token_id": FIXTURE["bos_id"],
        "tokenizer.ggml.add_space_prefix": add_space_prefix,
    }
    spec = tokenizer_spec(metadata, REPO / "model.gguf")
    python = SpmTokenizer(spec)
    texts = docs_paragraphs() + TRICKY + [case["text"] for case in FIXTURE["cases"]]
    expected = [python.encode(text) for text in texts]
    # Whole ids, and runs that cut multi-byte characters, at the start too.
    ids = expected[-40:] + [sequence[3:] for sequence in expected[-40:]]

    result = run_module(SCRIPT, {"spec": spec, "texts": texts, "ids": ids})

    assert len(texts) > 2000
    mismatched = [
        (t, a, b) for t, a, b in zip(texts, result["encoded"], expected, strict=True) if a != b
    ]
    assert mismatched == []
    assert result["decoded"] == [python.decode(sequence) for sequence in ids]
    assert result["streamed"] == [
        python.token_bytes_of(sequence).decode("utf-8", "replace") for sequence in ids
    ]
