"""The generator's tokenizer as prompt assembly uses it: counting, cutting, and taking the
model's special tokens out of untrusted text (runtime/prompt.js's PromptTokenizer)."""

from __future__ import annotations

from pagemind.models.bpe import bpe_tokenizer


class PromptTokenizer:
    def __init__(self, spec: dict) -> None:
        self.tokenizer = bpe_tokenizer(spec)
        self.specials = [token["content"] for token in spec["added_tokens"] if token["special"]]
        self.bos_id = spec["bos_id"] if spec["add_bos"] else None

    def encode(self, text: str) -> list[int]:
        """The ids the model reads, led by BOS when the model wants it (as the runtime)."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return ids if self.bos_id is None else [self.bos_id, *ids]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def ids(self, text: str) -> list[int]:
        """The ids of `text` alone, without BOS."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def count(self, text: str) -> int:
        return len(self.ids(text))

    def truncate(self, text: str, tokens: int) -> str:
        """The first `tokens` tokens of `text`, without a character cut in half."""
        ids = self.ids(text)[:tokens]
        return self.decode(ids).rstrip("\ufffd")

    def plain(self, text: str) -> str:
        while any(special in text for special in self.specials):
            for special in self.specials:
                text = text.replace(special, "")
        return text
