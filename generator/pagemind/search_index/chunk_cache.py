"""Each page's chunks, kept between builds by the page's rendered content, so that a build
of unchanged pages neither parses their HTML again nor counts their tokens.

    <site root>/.pagemind-cache/chunks.json   {"key": ..., "pages": {page key: [chunk...]}}

A page's chunks are a function of its rendered HTML, title, URL and source path, of the
target size and of the tokenizer that counts tokens; the file's key covers the last two and
the chunker's own code, so another embedder, chunk size or pagemind gives an empty cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import astuple
from pathlib import Path

from pagemind.search_index import chunks
from pagemind.search_index.chunks import Chunk
from pagemind.search_index.index_cache import replace_file
from pagemind.structure.pages import Page

CACHE_FILE = "chunks.json"  # in the site's cache folder


class ChunkCache:
    """The chunks of the pages of the last build, by page key (`page_key`)."""

    def __init__(self, cache_dir: Path, target_tokens: int, tokenizer: str) -> None:
        """tokenizer: names what counts the tokens (the embedder manifest's hashed name)."""
        self.path = cache_dir / CACHE_FILE
        code = Path(chunks.__file__).read_bytes()
        self.key = _digest(code, str(target_tokens).encode(), tokenizer.encode())
        self._saved = self._read()

    def get(self, key: str) -> list[Chunk] | None:
        return self._saved.get(key)

    def save(self, chunks_by_key: dict[str, list[Chunk]]) -> None:
        """Keeps these pages' chunks (and no others), writing only when they differ from the
        file's."""
        if chunks_by_key.keys() == self._saved.keys():
            return
        pages = {key: [astuple(chunk) for chunk in found] for key, found in chunks_by_key.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(self.path, json.dumps({"key": self.key, "pages": pages}).encode())
        self._saved = dict(chunks_by_key)

    def _read(self) -> dict[str, list[Chunk]]:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved["key"] != self.key:
                return {}
            return {
                key: [Chunk(*fields) for fields in found] for key, found in saved["pages"].items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            return {}  # none yet, or damaged: chunk the pages again


def page_key(page: Page) -> str:
    """What the page's chunks are made of: its source path, URL, title and rendered HTML."""
    return _digest(page.source.encode(), page.url.encode(), page.title.encode(), page.html.encode())


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()
