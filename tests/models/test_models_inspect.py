"""`pagemind models inspect` on GGUF files: the formats as stored, and whether the browser
runs every tensor, naming the first it does not and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFWriter
from pagemind.cli import main
from pagemind.models.tiny_model import tiny_llama_gguf


def test_inspect_a_q4_k_m_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny_llama_gguf(
        tmp_path / "q4_k_m.gguf", matrix_format="Q4_K_M", hidden_size=256, intermediate_size=512
    )
    assert main(["models", "inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "architecture:  llama" in out
    # Per block 7 matrices; block 1 keeps attn_v and ffn_down in Q6_K.
    assert "Q4_K    12 tensors" in out and "Q6_K     2 tensors" in out
    assert "Q8_0     1 tensors" in out  # the token embedding
    assert "runtime support: every tensor" in out
    assert "reader downloads: " in out


def test_inspect_names_the_first_tensor_the_browser_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "iq.gguf"
    writer = GGUFWriter(path, "llama")
    writer.add_tensor("output_norm.weight", np.ones(256, np.float32))
    iq4_xs_rows = np.zeros((2, 136), np.uint8)  # 256 values per 136-byte IQ4_XS block
    for name in ("blk.0.ffn_down.weight", "blk.1.ffn_down.weight"):
        writer.add_tensor(name, iq4_xs_rows, raw_dtype=GGMLQuantizationType.IQ4_XS)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert main(["models", "inspect", str(path)]) == 1
    out = capsys.readouterr().out
    assert "IQ4_XS    2 tensors" in out and "F32      1 tensors" in out
    assert (
        "runtime support: no, 2 tensors; the first: tensor blk.0.ffn_down.weight has type "
        "IQ4_XS, which the browser kernels do not run" in out
    )
    assert "fix: re-quantize it to one of F32, F16, Q8_0" in out and "Q4_K_M" in out
