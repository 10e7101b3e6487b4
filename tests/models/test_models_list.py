"""`pagemind models list [DIR]`: the default models, then each GGUF file and model folder
of the site folder with its role, size and whether the browser runs every tensor."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFWriter
from pagemind.cli import main
from pagemind.models.tiny_model import random_bert_folder, tiny_llama_gguf


def write_gguf(
    path: Path,
    rows: np.ndarray,
    raw_dtype: GGMLQuantizationType | None = None,
    *,
    adapter: bool = False,
) -> None:
    """A GGUF holding one tensor, marked a LoRA adapter or not."""
    writer = GGUFWriter(path, "llama")
    if adapter:
        writer.add_type("adapter")
    writer.add_tensor("blk.0.ffn_down.weight", rows, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def list_rows(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, list[str]]:
    assert main(["models", "list", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "SIZE", "RUNTIME", "WHERE"]
    return {line.split()[0]: re.split(r"\s{2,}", line) for line in lines[1:]}


def test_lists_the_site_folders_models_with_role_size_and_support(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("models", ".pagemind-cache"):
        (tmp_path / folder).mkdir()
    tiny_llama_gguf(tmp_path / "models" / "gemma.gguf", architecture="gemma3", tokenizer="spm")
    random_bert_folder(tmp_path / "models" / "bert")
    iq4_xs_rows = np.zeros((2, 136), np.uint8)  # 256 values per 136-byte block
    write_gguf(tmp_path / "models" / "iq4.gguf", iq4_xs_rows, GGMLQuantizationType.IQ4_XS)
    write_gguf(tmp_path / "concise.gguf", np.zeros((2, 8), np.float32), adapter=True)
    tiny_llama_gguf(tmp_path / ".pagemind-cache" / "hidden.gguf")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00")

    rows = list_rows(tmp_path, capsys)

    assert {"smollm2-135m-instruct", "all-minilm-l6-v2"} <= rows.keys()
    assert rows["models/gemma.gguf"] == [
        "models/gemma.gguf",
        "generator",
        "0.1 MB",
        "yes",
        "site folder",
    ]
    assert rows["models/bert"][1:] == ["embedder", "0.0 MB", "converted", "site folder"]
    assert rows["models/iq4.gguf"][3] == "no: blk.0.ffn_down.weight is IQ4_XS"
    assert rows["concise.gguf"][1] == "adapter"
    assert rows["broken.gguf"][3] == "no: not a readable GGUF"
    assert not any("hidden" in name for name in rows), "hidden folders are left out"


def test_a_missing_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", str(tmp_path / "nope")]) != 0
    error = capsys.readouterr().err
    assert "nope" in error and "no such folder" in error and "fix:" in error
