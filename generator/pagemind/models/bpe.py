"""Byte-level BPE tokenizer rebuilt from a GGUF vocabulary.

The spec (`tokenizer_spec`) is plain JSON data: the browser tokenizer reads the same
vocabulary, merges, split patterns and special tokens that `bpe_tokenizer` builds from.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

from pagemind.errors import PagemindError

_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# tokenizer.ggml.pre -> the regexes that split text before BPE, applied in order (as
# llama.cpp's llama-vocab.cpp does). "smollm" isolates every digit, then splits like GPT-2.
SPLIT_PATTERNS: dict[str, tuple[str, ...]] = {
    "default": (_GPT2,),
    "gpt-2": (_GPT2,),
    "smollm": (r"\p{N}", _GPT2),
    "starcoder": (r"\p{N}", _GPT2),
    "llama-bpe": (_LLAMA3,),
    "llama3": (_LLAMA3,),
    "qwen2": (_QWEN2,),
}

CONTROL_TOKEN = 3  # tokenizer.ggml.token_type: special, matched whole, never split
USER_DEFINED_TOKEN = 4  # matched whole in text, but not special


def tokenizer_spec(metadata: dict, source: Path) -> dict:
    """Everything a byte-level BPE tokenizer needs, from the GGUF `tokenizer.*` metadata."""
    kind = metadata.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise PagemindError(
            f"tokenizer type {kind!r} is not supported: only byte-level BPE ('gpt2') is",
            file=source,
            key="tokenizer.ggml.model",
            fix="use a GGUF with a byte-level BPE vocabulary (as Llama 3, Qwen2 and SmolLM have)",
        )
    pre = metadata.get("tokenizer.ggml.pre", "default")
    if pre not in SPLIT_PATTERNS:
        raise PagemindError(
            f"pre-tokenizer {pre!r} is not supported",
            file=source,
            key="tokenizer.ggml.pre",
            fix=f"use a model with one of: {', '.join(sorted(SPLIT_PATTERNS))}",
        )
    tokens = [str(token) for token in metadata["tokenizer.ggml.tokens"]]
    types = list(metadata.get("tokenizer.ggml.token_type", [1] * len(tokens)))
    special = [
        {"id": index, "content": tokens[index], "special": kind == CONTROL_TOKEN}
        for index, kind in enumerate(types)
        if kind in (CONTROL_TOKEN, USER_DEFINED_TOKEN)
    ]

    def token_id(key: str) -> int | None:
        value = metadata.get(f"tokenizer.ggml.{key}")
        return None if value is None else int(value)

    return {
        "type": "byte-level-bpe",
        "pre_tokenizer": pre,
        "split_patterns": list(SPLIT_PATTERNS[pre]),
        "vocab": tokens,
        "merges": [str(merge) for merge in metadata.get("tokenizer.ggml.merges", [])],
        "added_tokens": special,
        "bos_id": token_id("bos_token_id"),
        "eos_id": token_id("eos_token_id"),
        "pad_id": token_id("padding_token_id"),
        "add_bos": bool(metadata.get("tokenizer.ggml.add_bos_token", False)),
    }


def bpe_tokenizer(spec: dict) -> Tokenizer:
    """A `tokenizers.Tokenizer` that encodes and decodes exactly as the spec says."""
    vocab = {_byte_spelling(token): index for index, token in enumerate(spec["vocab"])}
    merges = [tuple(merge.split(" ", 1)) for merge in spec["merges"]]
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(pattern), "isolated") for pattern in spec["split_patterns"]]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            AddedToken(token["content"], special=True, normalized=False)
            for token in spec["added_tokens"]
            # A "control" token outside the byte alphabet is a converter mislabel; adding
            # it would grow the vocabulary past the model's.
            if token["special"] and set(token["content"]) <= _BYTE_CHARACTERS
        ]
    )
    tokenizer.add_tokens(
        [
            AddedToken(token["content"], special=False, normalized=False)
            for token in spec["added_tokens"]
            if not token["special"]
        ]
    )
    return tokenizer


def _byte_spelling(token: str) -> str:
    """GGUF stores byte-level tokens in GPT-2's byte alphabet; respell any that are not."""
    if set(token) <= _BYTE_CHARACTERS:
        return token
    return "".join(BYTE_TO_CHARACTER[byte] for byte in token.encode("utf-8"))


def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-in character for each byte value."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = iter(range(256, 512))
    return [chr(byte) if byte in printable else chr(next(extra)) for byte in range(256)]


BYTE_TO_CHARACTER = _byte_alphabet()
_BYTE_CHARACTERS = frozenset(BYTE_TO_CHARACTER)
