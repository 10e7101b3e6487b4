"""SentencePiece tokenizer rebuilt from a GGUF vocabulary (`tokenizer.ggml.model = "llama"`),
encoding as llama.cpp does for Llama 2, Gemma and their kin.

Text is cut at the literal tokens first (control and user-defined pieces, matched whole).
Each plain stretch has its spaces spelled "▁" (led by one more "▁" where the model adds a
space prefix and the stretch opens the text or follows a literal token), is split into UTF-8
characters, and adjacent symbols are merged, always the pair whose joined text is the piece
with the highest score (the leftmost among equals), while any pair forms a piece. A final
symbol that is no piece falls back to the pieces it was merged from, and a character that
is no piece to its UTF-8 bytes as <0xNN> tokens.

The spec (`tokenizer_spec`) is plain JSON data: runtime/tokenizer_spm.js reads the same.
"""

from __future__ import annotations

import heapq
import re
from pathlib import Path

from pagemind.errors import PagemindError

SPACE = "\u2581"  # "▁", SentencePiece's spelling of a space
# tokenizer.ggml.token_type values
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def tokenizer_spec(metadata: dict, source: Path) -> dict:
    """Everything a SentencePiece tokenizer needs, from the GGUF `tokenizer.*` metadata
    (with llama.cpp's defaults for the ids and flags a file leaves out)."""
    tokens = [str(token) for token in metadata["tokenizer.ggml.tokens"]]
    scores = [float(score) for score in metadata.get("tokenizer.ggml.scores", [])]
    types = [
        int(kind) for kind in metadata.get("tokenizer.ggml.token_type", [NORMAL] * len(tokens))
    ]
    for key, values in (("scores", scores), ("token_type", types)):
        if len(values) != len(tokens):
            raise PagemindError(
                f"{len(values)} entries for {len(tokens)} tokens",
                file=source,
                key=f"tokenizer.ggml.{key}",
                fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
            )

    def token_id(key: str, default: int | None) -> int | None:
        value = metadata.get(f"tokenizer.ggml.{key}", default)
        return None if value is None else int(value)

    return {
        "type": "spm",
        "vocab": tokens,
        "scores": scores,
        "token_types": types,
        "added_tokens": [
            {"id": index, "content": tokens[index], "special": kind == CONTROL}
            for index, kind in enumerate(types)
            if kind in (CONTROL, USER_DEFINED)
        ],
        "bos_id": token_id("bos_token_id", 1),
        "eos_id": token_id("eos_token_id", 2),
        "unk_id": token_id("unknown_token_id", 0),
        "pad_id": token_id("padding_token_id", None),
        "add_bos": bool(metadata.get("tokenizer.ggml.add_bos_token", True)),
        "add_space_prefix": bool(metadata.get("tokenizer.ggml.add_space_prefix", True)),
    }


class SpmTokenizer:
    def __init__(self, spec: dict) -> None:
        self.pieces: list[str] = spec["vocab"]
        self.scores: list[float] = spec["scores"]
        self.types: list[int] = spec["token_types"]
        self.ids = {piece: index for index, piece in enumerate(self.pieces)}  # the last wins
        self.bos_id, self.unk_id = spec["bos_id"], spec["unk_id"]
        self.add_bos, self.add_space_prefix = spec["add_bos"], spec["add_space_prefix"]
        literals = sorted((t["content"] for t in spec["added_tokens"] if t["content"]), key=len)
        # Alternatives are tried in order: longest first makes the leftmost match the longest.
        self.literal = (
            re.compile("|".join(map(re.escape, reversed(literals)))) if literals else None
        )
        self.byte_ids = {
            int(match[1], 16): index
            for index, piece in enumerate(self.pieces)
            if (match := _BYTE_PIECE.fullmatch(piece))
        }

    def encode(self, text: str, *, add_bos: bool | None = None) -> list[int]:
        """Token ids of `text`, led by BOS when the model asks for it (or `add_bos` says so)."""
        wants_bos = self.add_bos if add_bos is None else add_bos
        ids = [self.bos_id] if wants_bos and self.bos_id is not None else []
        after_literal = True  # the text's start counts as following one
        for part in self._split_literals(text):
            if isinstance(part, int):
                ids.append(part)
                after_literal = True
                continue
            prefix = " " if self.add_space_prefix and after_literal else ""
            ids += self._merge((prefix + part).replace(" ", SPACE))
            after_literal = False
        return ids

    def decode(self, ids: list[int], *, skip_special: bool = True) -> str:
        """The text of `ids`, without the space prefix that encoding adds."""
        text = self.token_bytes_of(ids, skip_special).decode("utf-8", "replace")
        return text[1:] if self.add_space_prefix and text.startswith(" ") else text

    def token_bytes_of(self, ids: list[int], skip_special: bool = True) -> bytes:
        return b"".join(self.token_bytes(token_id, skip_special) for token_id in ids)

    def token_bytes(self, token_id: int, skip_special: bool = True) -> bytes:
        """The bytes a token stands for: control and unknown tokens only when not skipped,
        unused tokens never (as llama.cpp's token_to_piece)."""
        if not 0 <= token_id < len(self.pieces):
            return b""
        kind, piece = self.types[token_id], self.pieces[token_id]
        if kind == BYTE and (match := _BYTE_PIECE.fullmatch(piece)):
            return bytes([int(match[1], 16)])
        if kind in (CONTROL, UNKNOWN):
            return b"" if skip_special else piece.encode("utf-8")
        if kind == USER_DEFINED:
            return piece.encode("utf-8")
        return piece.replace(SPACE, " ").encode("utf-8") if kind == NORMAL else b""

    def _split_literals(self, text: str) -> list[str | int]:
        if self.literal is None:
            return [text] if text else []
        parts: list[str | int] = []
        end = 0
        for match in self.literal.finditer(text):
            if match.start() > end:
                parts.append(text[end : match.start()])
            parts.append(self.ids[match[0]])
            end = match.end()
        if end < len(text):
            parts.append(text[end:])
        return parts

    def _merge(self, text: str) -> list[int]:
        """The best-score bigram merging of llama.cpp's llm_tokenizer_spm over `text`."""
        symbols = list(text)  # merged text per slot; "" once merged into its left neighbour
        following = list(range(1, len(symbols) + 1))
        preceding = list(range(-1, len(symbols) - 1))
        queue: list[tuple[float, int, int, int]] = []  # (-score, left, right, joined length)

        def offer(left: int, right: int) -> None:
            if left >= 0 and right < len(symbols):
                joined = symbols[left] + symbols[right]
                if (token_id := self.ids.get(joined)) is not None:
                    heapq.heappush(queue, (-self.scores[token_id], left, right, len(joined)))

        for index in range(1, len(symbols)):
            offer(index - 1, index)
        while queue:
            _, left, right, length = heapq.heappop(queue)
            # A pair that an earlier merge changed is stale: symbols only grow.
            stale = not symbols[left] or not symbols[right]
            if stale or len(symbols[left]) + len(symbols[right]) != length:
                continue
            symbols[left] += symbols[right]
            symbols[right] = ""
            following[left] = following[right]
            if following[left] < len(symbols):
                preceding[following[left]] = left
            offer(preceding[left], left)
            offer(left, following[left])
        # Every merge made a piece: only a lone character can be none, and falls to bytes.
        ids: list[int] = []
        for symbol in filter(None, symbols):
            if symbol in self.ids:
                ids.append(self.ids[symbol])
            else:
                ids += [self._byte_id(byte) for byte in symbol.encode("utf-8")]
        return ids

    def _byte_id(self, byte: int) -> int:
        return self.byte_ids.get(byte, self.ids.get(chr(byte), self.unk_id))
