"""The browser tokenizers (runtime/tokenizer_*.js) give the `tokenizers` library's ids.

Every check runs the real modules twice: in headless Chromium and under Node. The
reference is the Python tokenizer built from the same spec (pagemind.models.bpe and
pagemind.models.wordpiece), on every paragraph of the docs corpora and on tricky strings.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pagemind.models.bpe import SPLIT_PATTERNS, bpe_tokenizer
from pagemind.models.gguf_source import read_gguf
from pagemind.models.registry import DEFAULT_MODELS, resolve_model
from pagemind.models.safetensors_source import read_bert_folder
from pagemind.models.wordpiece import wordpiece_tokenizer
from paths import REPO, docs_paragraphs
from tokenizers import Regex, Tokenizer, pre_tokenizers

RUNTIME = REPO / "runtime"
MODULES = {"bpe": "tokenizer_bpe.js", "wordpiece": "tokenizer_wordpiece.js"}
FIXTURES = REPO / "tests" / "fixtures"

TRICKY = [
    "",
    "👨\u200d👩\u200d👧\u200d👦 family, 🏳️\u200d🌈 flag, 👍🏽 thumbs, 1️⃣ keycap, 🥲 newer emoji",
    "東京の天気は晴れです。中文字符 한국어 텍스트 𠀋 and 𪜀 outside the BMP",
    # The edges of the CJK blocks BERT pads with spaces.
    "".join(chr(c) for c in (0x2A6DF, 0x2A6E0, 0x2B81F, 0x2B820, 0x2B920, 0x2CEAF, 0x2CEB0)),
    "é composed, e\u0301 combining, n\u0303o, A\u030a\u0323 stacked, ﬁ ligature",
    "  leading spaces",
    "trailing spaces   ",
    " \n ",
    "12345 and 1234567890123 and ٣٤٥ and ²³ and ③ and 3.14159",
    "don't I'll we've she'd they're it's DON'T I'LL We'Ve he'\u017ft",
    "line one\r\nline two\r\n\r\nline four\rend\r\n",
    "col1\tcol2\t\tcol4\n\tindented\t",
    "x" * 300,
    "Supercalifragilisticexpialidocious" * 5,
    "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=" * 10,
    "ΟΔΟΣ ΣΙΣΥΦΟΣ Σ \u03c3 \u03c2",
    "İstanbul ß ẞ ǅ Ǆ ǆ",
    "\ufeffbyte order mark, \u0085 next line, \u00a0 nbsp, \u3000 ideographic, \u2028 ls",
    # Oniguruma's \s and JavaScript's differ on U+0085 and U+FEFF.
    "wait!\u0085 then x\ufeff!? and \ufeff\u0085\u2029.",
    "zero\u200bwidth, joiner\u200d, \u180e mongolian, \ufffd replacement, \u00ad soft",
    "control\x00chars\x07and\x1b[0mansi\x0b\x0c",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|><repo_name>",
    "[CLS] [SEP] [MASK] [UNK] [PAD] [cls]",
    "```python\nprint('hi')  # comment\n```",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "$HOME ~/.config a+b=c <x> ^_^ `code` |pipe| «guillemets» „low“ — dash … ellipsis",
    "a" + " " * 40 + "b" + "\n" * 5 + "c",
]


def reference_tricky_strings() -> list[str]:
    llama = json.loads((FIXTURES / "llama_reference.json").read_text(encoding="utf-8"))
    bert = json.loads((FIXTURES / "bert_reference.json").read_text(encoding="utf-8"))
    return [case["text"] for case in llama["tricky"]] + bert["tricky_strings"]


def unicode_3_2_blocks(context: str, skip: frozenset[str] = frozenset()) -> list[str]:
    """Every character assigned in Unicode 3.2 (private use aside, and `skip`), 64 to a text,
    each set in `context` (a format string). Both sides' Unicode tables are newer than 3.2, so
    a character left out here is one that one side does not know yet."""
    characters = [
        chr(code)
        for code in range(0x110000)
        if unicodedata.ucd_3_2_0.category(chr(code)) not in ("Cn", "Co", "Cs")
        and chr(code) not in skip
    ]
    blocks = [characters[start : start + 64] for start in range(0, len(characters), 64)]
    return ["".join(context.format(c) for c in block) for block in blocks]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    paragraphs = docs_paragraphs()
    assert len(paragraphs) > 2000  # pagemind's docs and MkDocs'
    return paragraphs + TRICKY + reference_tricky_strings()


@pytest.fixture(scope="module")
def bpe_spec() -> dict:
    model = read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO))
    return model.tokenizer_spec


@pytest.fixture(scope="module")
def wordpiece_spec() -> dict:
    folder = DEFAULT_MODELS["all-minilm-l6-v2"].path()
    if folder is None:
        pytest.skip(
            f"default embedder missing: {DEFAULT_MODELS['all-minilm-l6-v2'].install_command}"
        )
    return read_bert_folder(folder).tokenizer_spec


# A check is an async JavaScript function `(tokenizers, data) => result`, where `tokenizers`
# holds the imported modules by the keys of MODULES; data and result travel as JSON.
RunJs = Callable[[str, Any], Any]


def chromium_runner(page, static_server, root: Path) -> RunJs:
    # Module imports need an http origin; the empty icon spares a 404 in the console.
    shutil.copytree(RUNTIME, root / "runtime")
    (root / "index.html").write_text('<link rel="icon" href="data:,">', encoding="utf-8")
    site = static_server(root)
    page.goto(site)
    base = site + "runtime/"
    imports = ", ".join(
        f"{key}: await import({json.dumps(base + name)})" for key, name in MODULES.items()
    )

    def run(check: str, data: Any) -> Any:
        # JSON text crosses into the page far faster than Playwright's value serialization.
        result = page.evaluate(
            f"async (data) => JSON.stringify(await ({check})({{ {imports} }}, JSON.parse(data)))",
            json.dumps(data),
        )
        assert page.console_errors == []
        return json.loads(result)

    return run


def node_runner(tmp_path: Path) -> RunJs:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the tokenizers run in Chromium only")
    imports = "\n".join(
        f"import * as {key} from {json.dumps((RUNTIME / name).as_uri())};"
        for key, name in MODULES.items()
    )

    def run(check: str, data: Any) -> Any:
        data_file, result_file = tmp_path / "data.json", tmp_path / "result.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        script = f"""{imports}
import {{ readFileSync, writeFileSync }} from "node:fs";
const data = JSON.parse(readFileSync(process.env.DATA_FILE, "utf8"));
const result = await ({check})({{ {", ".join(MODULES)} }}, data);
writeFileSync(process.env.RESULT_FILE, JSON.stringify(result));
"""
        subprocess.run(
            [node, "--input-type=module"],
            input=script,
            text=True,
            check=True,
            env={"DATA_FILE": str(data_file), "RESULT_FILE": str(result_file)},
        )
        return json.loads(result_file.read_text(encoding="utf-8"))

    return run


@pytest.fixture(params=[pytest.param("chromium", marks=pytest.mark.browser), "node"])
def run_js(request, tmp_path: Path) -> RunJs:
    if request.param == "chromium":
        page, static_server = (request.getfixturevalue(name) for name in ("page", "static_server"))
        return chromium_runner(page, static_server, tmp_path)
    return node_runner(tmp_path)


def mismatches(texts: list[str], ours: list, expected: list) -> list[tuple[str, Any, Any]]:
    return [(text, a, b) for text, a, b in zip(texts, ours, expected, strict=True) if a != b]


def test_bpe_ids_equal_the_tokenizers_library(run_js: RunJs, bpe_spec: dict, texts: list[str]):
    expected = [encoding.ids for encoding in bpe_tokenizer(bpe_spec).encode_batch(texts)]
    ours = run_js(
        "({bpe}, {spec, texts}) => { const t = new bpe.BpeTokenizer(spec);"
        " return texts.map((text) => t.encode(text)); }",
        {"spec": bpe_spec, "texts": texts},
    )
    wrong = mismatches(texts, ours, expected)
    assert wrong == [], f"{len(wrong)} of {len(texts)} texts differ"


def test_bpe_decoding_restores_every_text(run_js: RunJs, bpe_spec: dict, texts: list[str]):
    """With special tokens kept, decode(encode(x)) is x; without, it is the library's text."""
    library = bpe_tokenizer(bpe_spec)
    ids = [encoding.ids for encoding in library.encode_batch(texts)]
    decoded = run_js(
        "({bpe}, {spec, ids}) => { const t = new bpe.BpeTokenizer(spec);"
        " return ids.map((each) => [t.decode(each, {skipSpecial: false}), t.decode(each)]); }",
        {"spec": bpe_spec, "ids": ids},
    )
    assert [kept for kept, _ in decoded] == texts
    assert [skipped for _, skipped in decoded] == library.decode_batch(ids)


def test_bpe_decodes_broken_utf8_as_the_library_does(run_js: RunJs, bpe_spec: dict):
    """Byte tokens in random order: invalid sequences become U+FFFD exactly as in Rust."""
    library = bpe_tokenizer(bpe_spec)
    byte_ids = [library.token_to_id(chr(char)) for char in range(0x21, 0x7F)] + [
        library.token_to_id(token) for token in ("Ã", "Â", "ð", "Ł", "ĺ", "¤", "ĸ", "Ģ", "ł")
    ]
    generator = random.Random(7)
    sequences = [[generator.choice(byte_ids) for _ in range(12)] for _ in range(300)]
    decoded = run_js(
        "({bpe}, {spec, sequences}) => { const t = new bpe.BpeTokenizer(spec);"
        " return sequences.map((ids) => t.decode(ids)); }",
        {"spec": bpe_spec, "sequences": sequences},
    )
    assert any("\ufffd" in text for text in decoded)  # the case under test occurred
    assert decoded == library.decode_batch(sequences)


def test_stream_decoder_emits_only_whole_characters(run_js: RunJs, bpe_spec: dict):
    text = "Robots 🤖 read 東京 docs 👨\u200d👩\u200d👧 offline."
    ids = bpe_tokenizer(bpe_spec).encode(text).ids
    chunks = run_js(
        "({bpe}, {spec, ids}) => { const d = new bpe.BpeTokenizer(spec).streamDecoder();"
        " return [...ids.map((id) => d.push(id)), d.flush()]; }",
        {"spec": bpe_spec, "ids": ids},
    )
    assert "" in chunks[:-1]  # some token ended inside a character and had to wait
    assert not any("\ufffd" in chunk for chunk in chunks)
    assert "".join(chunks) == text


def test_bpe_adds_bos_only_when_the_model_asks(run_js: RunJs, bpe_spec: dict):
    spec = {**bpe_spec, "add_bos": True}
    first_ids = run_js(
        "({bpe}, {spec}) => { const t = new bpe.BpeTokenizer(spec);"
        " return [t.encode('hi')[0], t.encode('hi', {addBos: false})[0]]; }",
        {"spec": spec},
    )
    assert first_ids == [spec["bos_id"], bpe_tokenizer(spec).encode("hi").ids[0]]


def test_split_patterns_cut_text_as_oniguruma_does(run_js: RunJs, texts: list[str]):
    """Every supported pre-tokenizer, including the (?i:...) ones no default model uses."""
    pattern_sets = sorted(set(SPLIT_PATTERNS.values()))
    expected = [
        [[piece for piece, _ in split_sequence(patterns).pre_tokenize_str(text)] for text in texts]
        for patterns in pattern_sets
    ]
    ours = run_js(
        "({bpe}, {patternSets, texts}) => patternSets.map((patterns) => {"
        " const split = bpe.patternSplitter(patterns); return texts.map(split); })",
        {"patternSets": pattern_sets, "texts": texts},
    )
    for patterns, our_pieces, expected_pieces in zip(pattern_sets, ours, expected, strict=True):
        wrong = mismatches(texts, our_pieces, expected_pieces)
        assert wrong == [], f"{patterns}: {len(wrong)} of {len(texts)} texts differ"


def split_sequence(patterns: tuple[str, ...]) -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(pattern), "isolated") for pattern in patterns]
    )


def test_bpe_ids_equal_the_library_on_every_character(run_js: RunJs, bpe_spec: dict):
    texts = unicode_3_2_blocks("a{0}b {0}{0}1'{0}\n")
    expected = [encoding.ids for encoding in bpe_tokenizer(bpe_spec).encode_batch(texts)]
    differing = run_js(
        "({bpe}, {spec, texts, expected}) => { const t = new bpe.BpeTokenizer(spec);"
        " return texts.filter((text, i) => t.encode(text).join() !== expected[i].join()); }",
        {"spec": bpe_spec, "texts": texts, "expected": expected},
    )
    assert differing == [], f"{len(differing)} of {len(texts)} blocks differ"


def test_wordpiece_ids_equal_the_tokenizers_library(
    run_js: RunJs, wordpiece_spec: dict, texts: list[str]
):
    texts = [*texts, "documentation " * 1000]  # truncated to max_length
    library: Tokenizer = wordpiece_tokenizer(wordpiece_spec)
    expected = [encoding.ids for encoding in library.encode_batch(texts)]
    ours = run_js(
        "({wordpiece}, {spec, texts}) => { const t = new wordpiece.WordPieceTokenizer(spec);"
        " return texts.map((text) => t.encode(text)); }",
        {"spec": wordpiece_spec, "texts": texts},
    )
    assert len(ours[-1]) == wordpiece_spec["max_length"]
    wrong = mismatches(texts, ours, expected)
    assert wrong == [], f"{len(wrong)} of {len(texts)} texts differ"


# Their category changed since: U+1885 and U+1886 Lo -> Mn (Unicode 9), U+166D Po -> So
# (Unicode 12), U+1734 Mn -> Mc (Unicode 14). The Rust library's tables predate all four
# changes; JavaScript's follow them.
RECATEGORIZED = frozenset("\u166d\u1734\u1885\u1886")


def test_wordpiece_ids_equal_the_library_on_every_character(run_js: RunJs, wordpiece_spec: dict):
    spec = {**wordpiece_spec, "max_length": 100_000}  # whole blocks, untruncated
    texts = unicode_3_2_blocks(" {0} a{0}A ", skip=RECATEGORIZED)
    expected = [encoding.ids for encoding in wordpiece_tokenizer(spec).encode_batch(texts)]
    differing = run_js(
        "({wordpiece}, {spec, texts, expected}) => {"
        " const t = new wordpiece.WordPieceTokenizer(spec);"
        " return texts.filter((text, i) => t.encode(text).join() !== expected[i].join()); }",
        {"spec": spec, "texts": texts, "expected": expected},
    )
    assert differing == [], f"{len(differing)} of {len(texts)} blocks differ"
