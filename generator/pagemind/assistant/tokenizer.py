"""The generator's tokenizer as prompt assembly uses it: counting, cutting, and taking the
model's special tokens out of untrusted text (runtime/prompt.js's PromptTokenizer). The
vocabulary's kind picks it: byte-level BPE or SentencePiece."""

from __future__ import annotations

from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.spm import SpmTokenizer


class PromptTokenizer:
    def __init__(self, spec: dict) -> None:
        if spec["type"] == "spm":
            spm = SpmTokenizer(spec)
            self._ids = lambda text: spm.encode(text, add_bos=False)
            self.decode = spm.decode
        else:
            bpe = bpe_tokenizer(spec)
            self._ids = lambda text: bpe.encode(text, add_special_tokens=False).ids
            self.decode = lambda ids: bpe.decode(ids, skip_special_tokens=True)
        self.specials = [token["content"] for token in spec["added_tokens"] if token["special"]]
        self.bos_id = spec["bos_id"] if spec["add_bos"] else None

    def encode(self, text: str) -> list[int]:
        """The ids the model reads, led by BOS when the model wants it (as the runtime)."""
        ids = self.ids(text)
        return ids if self.bos_id is None else [self.bos_id, *ids]

    def ids(self, text: str) -> list[int]:
        """The ids of `text` alone, without BOS."""
        return self._ids(text)

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
