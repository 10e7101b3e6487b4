"""Random and damaged bytes fed to every reader of author or model files: each either reads
the file or raises a PagemindError naming it, never another exception (seeded, so a failure
reproduces)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader
from pagemind.config import MarkdownConfig, load_config
from pagemind.errors import PagemindError
from pagemind.models.gguf_source import read_gguf
from pagemind.models.safetensors_source import read_bert_folder
from pagemind.models.tiny_model import random_bert_folder, tiny_llama_gguf
from pagemind.structure.links import LinkResolver
from pagemind.structure.markdown import MarkdownRenderer
from pagemind.structure.pages import parse_page

CASES = 120

PAGEMIND_TOML = b"""site_name = "Fuzz"
site_url = "https://example.org/docs/"
repo_url = "https://example.org/repo"
nav = ["index.md", { "Guide" = ["guide.md", { "Deep" = "deep.md" }] }]
exclude = ["drafts/**"]

[theme]
palette = "dark"
accent = "rgb(15 118 110)"

[markdown]
toc_depth = 2

[assistant]
enabled = false
top_k = 3
examples = [{ question = "How?", answer = "Like this." }]

[search]
chunk_tokens = 120
"""

MKDOCS_YML = b"""site_name: Fuzz
site_url: https://example.org/docs/
nav:
  - index.md
  - Guide:
      - guide.md
      - Deep: deep.md
exclude_docs: |
  drafts/
theme:
  name: material
markdown_extensions:
  - toc:
      permalink: true
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
"""

PAGE = b"""---
title: "Fuzzed page"
description: A page with front matter
assistant: false
hide: [toc, navigation]
tags: [a, b]
---
# Heading

Some *text* with a [link](other.md#part) and `code`.

- item
    - nested [x](#heading)

> quote

```python
print("hi")
```
"""


def mutations(data: bytes, rng: random.Random) -> bytes:
    """One damaged variant: truncated, bytes flipped, a slice repeated, or random bytes."""
    kind = rng.randrange(4)
    if kind == 0:
        return data[: rng.randrange(len(data))]
    if kind == 1:
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        return bytes(damaged)
    if kind == 2:
        start = rng.randrange(len(data))
        end = rng.randrange(start, min(len(data), start + 64) + 1)
        return data[:start] + data[start:end] * rng.randint(2, 50) + data[start:]
    return rng.randbytes(rng.randrange(1, 512))


def header_mutations(data: bytes, header_size: int, rng: random.Random) -> bytes:
    """Damage aimed at a binary file's header, where the structure is (weights are values)."""
    damaged = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(header_size)
        damaged[position] = rng.randrange(256)
    return bytes(damaged) if rng.random() < 0.7 else bytes(damaged[: rng.randrange(len(data))])


def unexpected_failures(
    cases: int, seed: int, damage: Callable[[random.Random], None], read: Callable[[], object]
) -> list[str]:
    """Runs `damage` then `read` `cases` times; each exception other than PagemindError."""
    rng = random.Random(seed)
    failures = []
    for case in range(cases):
        damage(rng)
        try:
            read()
        except PagemindError as error:
            assert str(error).strip(), f"case {case}: an empty message"
        except RecursionError:
            failures.append(f"case {case} (seed {seed}): RecursionError")
        except Exception as error:  # exactly what this test hunts
            failures.append(f"case {case} (seed {seed}): {type(error).__name__}: {error}"[:300])
    return failures


def test_config_readers_raise_only_pagemind_errors(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    failures = []
    for name, text, seed in (("pagemind.toml", PAGEMIND_TOML, 1), ("mkdocs.yml", MKDOCS_YML, 2)):
        config = tmp_path / name

        def damage(rng: random.Random, config: Path = config, text: bytes = text) -> None:
            config.write_bytes(mutations(text, rng))

        failures += unexpected_failures(CASES, seed, damage, lambda: load_config(tmp_path))
        config.unlink()
    assert not failures, "\n".join(failures)


def test_page_reader_raises_only_pagemind_errors(tmp_path: Path) -> None:
    renderer = MarkdownRenderer(MarkdownConfig())
    resolver = LinkResolver({"page.md": "page/", "other.md": "other/"}, set())
    page = tmp_path / "page.md"

    def damage(rng: random.Random) -> None:
        page.write_bytes(mutations(PAGE, rng))

    def read() -> None:
        parse_page("page.md", tmp_path, renderer, resolver)

    failures = unexpected_failures(CASES, 3, damage, read)
    assert not failures, "\n".join(failures)


def test_gguf_reader_raises_only_pagemind_errors(tmp_path: Path) -> None:
    original = tiny_llama_gguf(tmp_path / "tiny.gguf", hidden_size=32, num_layers=1).read_bytes()
    model = tmp_path / "model.gguf"
    header_size = original.index(b"token_embd.weight") + 200  # metadata and tensor table

    def damage(rng: random.Random) -> None:
        model.write_bytes(header_mutations(original, header_size, rng))

    failures = unexpected_failures(CASES, 4, damage, lambda: read_gguf(model))
    assert not failures, "\n".join(failures)


def test_gguf_reader_refuses_wrong_metadata_values(tmp_path: Path) -> None:
    """Each case overwrites values of the header (sizes, token ids, strings, token types) in
    place, keeping the file's structure: what a bad conversion writes."""
    path = tiny_llama_gguf(tmp_path / "tiny.gguf", hidden_size=32, num_layers=1)
    original = path.read_bytes()
    values = _metadata_values(path)
    model = tmp_path / "model.gguf"

    def damage(rng: random.Random) -> None:
        damaged = bytearray(original)
        for field in rng.sample(values, rng.randint(1, 3)):
            offset, size = rng.choice(field)
            damaged[offset : offset + size] = _odd_value(size, rng)
        model.write_bytes(bytes(damaged))

    failures = unexpected_failures(CASES * 2, 6, damage, lambda: read_gguf(model))
    assert not failures, "\n".join(failures)


def _metadata_values(path: Path) -> list[list[tuple[int, int]]]:
    """For each key of the GGUF header, (offset, size) of each value it stores."""
    places = []
    for field in GGUFReader(path).fields.values():
        starts = np.cumsum([0] + [part.nbytes for part in field.parts])
        places.append(
            [(field.offset + int(starts[index]), field.parts[index].nbytes) for index in field.data]
        )
    return places


def _odd_value(size: int, rng: random.Random) -> bytes:
    """Zero, all ones, one, or random bytes: the values that break sizes and indexes."""
    choice = rng.randrange(4)
    if choice == 0:
        return bytes(size)
    if choice == 1:
        return b"\xff" * size
    if choice == 2:
        return (1).to_bytes(size, "little")
    return rng.randbytes(size)


@pytest.mark.parametrize(
    "name",
    [
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ],
)
def test_bert_folder_reader_raises_only_pagemind_errors(tmp_path: Path, name: str) -> None:
    folder = random_bert_folder(tmp_path / "bert")
    read_bert_folder(folder)  # the undamaged folder reads
    target = folder / name
    original = target.read_bytes()
    header_size = 8 + int.from_bytes(original[:8], "little") if name.endswith("tensors") else 0

    def damage(rng: random.Random) -> None:
        if header_size:
            target.write_bytes(header_mutations(original, header_size, rng))
        else:
            target.write_bytes(mutations(original, rng))

    failures = unexpected_failures(CASES // 2, 5, damage, lambda: read_bert_folder(folder))
    assert not failures, "\n".join(failures)
