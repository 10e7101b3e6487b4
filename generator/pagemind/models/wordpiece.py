"""BERT's WordPiece tokenizer: a self-contained spec from tokenizer.json, and a tokenizer from it.

The spec is what the browser's WordPiece tokenizer reads from the model manifest. Building the
Python tokenizer from the spec alone (never from tokenizer.json directly) proves the spec carries
everything needed: parity tests compare it with the model folder's own tokenizer.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors

from pagemind.errors import PagemindError

SPEC_TYPE = "wordpiece"


def wordpiece_spec(tokenizer_json: dict[str, Any], *, max_length: int, file: Path) -> dict:
    """Extract the WordPiece spec from a parsed tokenizer.json.

    `max_length` counts every token of a text, [CLS] and [SEP] included; longer texts are
    truncated to it. `file` only names the source in errors.
    """
    model = tokenizer_json.get("model") or {}
    if model.get("type") != "WordPiece":
        raise PagemindError(
            f"the tokenizer is {model.get('type')!r}, not WordPiece",
            file=file,
            key="model.type",
            fix="use a BERT model folder whose tokenizer.json has a WordPiece model",
        )
    normalizer = tokenizer_json.get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer":
        raise PagemindError(
            f"the normalizer is {normalizer.get('type')!r}, not BertNormalizer",
            file=file,
            key="normalizer.type",
            fix="use a BERT model folder whose tokenizer.json has a BertNormalizer",
        )
    vocab = _vocab_by_id(model["vocab"], file)
    cls_token, sep_token = _cls_and_sep(tokenizer_json.get("post_processor") or {}, file)
    pad_token = (tokenizer_json.get("padding") or {}).get("pad_token", "[PAD]")
    token_ids = {token: index for index, token in enumerate(vocab)}
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    return {
        "type": SPEC_TYPE,
        "vocab": vocab,
        "unk_token": model["unk_token"],
        "continuing_subword_prefix": model.get("continuing_subword_prefix", "##"),
        "max_input_chars_per_word": model.get("max_input_chars_per_word", 100),
        "lowercase": lowercase,
        # BertNormalizer strips accents whenever it lowercases, unless told otherwise.
        "strip_accents": lowercase if strip_accents is None else bool(strip_accents),
        "clean_text": bool(normalizer.get("clean_text", True)),
        "handle_chinese_chars": bool(normalizer.get("handle_chinese_chars", True)),
        # Matched verbatim in the raw text before normalisation, as tokenizers does.
        "special_tokens": [t["content"] for t in tokenizer_json.get("added_tokens", [])],
        "unk_id": token_ids[model["unk_token"]],
        "cls_id": token_ids[cls_token],
        "sep_id": token_ids[sep_token],
        "pad_id": token_ids.get(pad_token, 0),
        "max_length": max_length,
    }


def wordpiece_tokenizer(spec: dict) -> Tokenizer:
    """A `tokenizers.Tokenizer` equal to the spec: [CLS] text [SEP], truncated, never padded."""
    vocab = spec["vocab"]
    tokenizer = Tokenizer(
        models.WordPiece(
            {token: index for index, token in enumerate(vocab)},
            unk_token=spec["unk_token"],
            continuing_subword_prefix=spec["continuing_subword_prefix"],
            max_input_chars_per_word=spec["max_input_chars_per_word"],
        )
    )
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=spec["clean_text"],
        handle_chinese_chars=spec["handle_chinese_chars"],
        strip_accents=spec["strip_accents"],
        lowercase=spec["lowercase"],
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.add_special_tokens(
        [AddedToken(token, normalized=False, special=True) for token in spec["special_tokens"]]
    )
    cls_id, sep_id = spec["cls_id"], spec["sep_id"]
    tokenizer.post_processor = processors.BertProcessing(
        (vocab[sep_id], sep_id), (vocab[cls_id], cls_id)
    )
    tokenizer.enable_truncation(spec["max_length"])
    return tokenizer


def _vocab_by_id(vocab: dict[str, int], file: Path) -> list[str]:
    """The vocabulary as a list indexed by id (compact in JSON, direct to look up in JS)."""
    by_id = sorted(vocab, key=vocab.__getitem__)
    if [vocab[token] for token in by_id] != list(range(len(by_id))):
        raise PagemindError(
            "the WordPiece vocabulary ids are not 0..n-1 without gaps",
            file=file,
            key="model.vocab",
            fix="re-export the tokenizer with `tokenizer.save_pretrained(folder)`",
        )
    return by_id


def _cls_and_sep(post_processor: dict, file: Path) -> tuple[str, str]:
    """The tokens a single text is wrapped in, from a BertProcessing or TemplateProcessing."""
    if post_processor.get("type") == "BertProcessing":
        return post_processor["cls"][0], post_processor["sep"][0]
    if post_processor.get("type") == "TemplateProcessing":
        specials = [
            piece["SpecialToken"]["id"]
            for piece in post_processor["single"]
            if "SpecialToken" in piece
        ]
        if len(specials) == 2:
            return specials[0], specials[1]
    raise PagemindError(
        "the tokenizer does not wrap texts in [CLS] ... [SEP]",
        file=file,
        key="post_processor",
        fix="use a BERT model folder whose tokenizer.json adds [CLS] and [SEP]",
    )
