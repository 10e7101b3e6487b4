"""Reading GGUF files: the default model, small written models, and files it must refuse."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from pagemind.errors import PagemindError
from pagemind.models.gguf_source import FUSED_WEIGHTS, fuse_decoder_tensors, read_gguf
from pagemind.models.registry import resolve_model
from pagemind.models.tensors import QuantTensor
from pagemind.models.tiny_model import tiny_llama_gguf
from paths import REPO


def test_default_model_is_llama_q4_1_with_a_q8_0_embedding() -> None:
    path = resolve_model("smollm2-135m-instruct", "generator", REPO)
    model = read_gguf(path)
    assert model.architecture == "llama"
    formats = Counter(tensor.format for tensor in model.tensors.values())
    assert formats == {"Q4_1": 120, "F32": 61, "Q8_0": 1}  # per block: qkv, o, gate_up, down
    embedding = model.tensors["token_embd.weight"]
    assert (embedding.format, embedding.shape) == ("Q8_0", (49152, 576))
    assert model.tensors["blk.0.ffn_down.weight"].shape == (576, 1536)  # (n_out, n_in)
    assert model.tensors["blk.0.attn_qkv.weight"].shape == (576 + 2 * 192, 576)
    assert model.tensors["blk.0.ffn_gate_up.weight"].shape == (2 * 1536, 576)
    config = model.config
    assert (config.num_layers, config.hidden_size, config.intermediate_size) == (30, 576, 1536)
    assert (config.num_heads, config.num_kv_heads, config.head_dim) == (9, 3, 64)
    assert config.rope_interleaved and config.tied_embeddings and not config.attention_bias
    assert config.rope_theta == 100000.0
    weight_bytes = sum(tensor.nbytes for tensor in model.tensors.values())
    assert 0.9 * path.stat().st_size < weight_bytes < path.stat().st_size
    assert "tokenizer.ggml.tokens" not in model.metadata  # large arrays live in the spec


@pytest.mark.parametrize(
    ("architecture", "matrix_format", "tied"), [("llama", "Q4_1", True), ("qwen2", "Q4_0", False)]
)
def test_written_model_reads_back(
    tmp_path: Path, architecture: str, matrix_format: str, tied: bool
) -> None:
    path = tiny_llama_gguf(
        tmp_path / "tiny.gguf",
        architecture=architecture,
        matrix_format=matrix_format,
        tied_embeddings=tied,
        hidden_size=64,
        num_heads=4,
        num_kv_heads=2,
    )
    model = read_gguf(path)
    config = model.config
    assert model.architecture == architecture
    assert (config.num_heads, config.num_kv_heads, config.head_dim) == (4, 2, 16)
    assert config.rope_interleaved == (architecture == "llama")
    assert config.attention_bias == (architecture == "qwen2")
    assert config.tied_embeddings == tied
    qkv = model.tensors["blk.1.attn_qkv.weight"]
    assert (qkv.format, qkv.shape) == (matrix_format, (64 + 2 * 32, 64))
    assert ("blk.1.attn_qkv.bias" in model.tensors) == (architecture == "qwen2")
    assert not any(name.endswith(("attn_q.weight", "ffn_up.weight")) for name in model.tensors)
    assert ("output.weight" in model.tensors) == (not tied)
    assert model.chat is not None and model.chat["stop_ids"] == [2]


@pytest.mark.parametrize("architecture", ["llama", "qwen2"])
def test_tensor_bytes_are_the_stored_blocks(tmp_path: Path, architecture: str) -> None:
    """Each tensor's data is its bytes in the file, untouched, whatever the format; a fused
    tensor's, the bytes of its parts one after the other (Qwen2's Q/K/V biases too)."""
    path = tiny_llama_gguf(tmp_path / "tiny.gguf", architecture=architecture, tied_embeddings=False)
    stored = {tensor.name: bytes(tensor.data) for tensor in GGUFReader(path).tensors}
    tensors = read_gguf(path).tensors
    assert {tensor.format for tensor in tensors.values()} == {"F32", "F16", "Q8_0", "Q4_1"}
    for name, tensor in tensors.items():
        block, _, kind = name.rpartition(".")
        prefix, _, fused = block.rpartition(".")
        parts = [f"{prefix}.{part}.{kind}" for part in FUSED_WEIGHTS.get(fused, ())] or [name]
        assert bytes(tensor.data) == b"".join(stored[part] for part in parts), name


def test_refuses_to_fuse_matrices_of_different_formats(tmp_path: Path) -> None:
    """Q/K/V rows share one matrix, so they must share one block format."""
    rows = np.ones((32, 64), np.float32)
    tensors = {
        f"blk.0.attn_{name}.weight": QuantTensor.from_array(name, rows, tensor_format)
        for name, tensor_format in (("q", "Q8_0"), ("k", "Q8_0"), ("v", "Q4_0"))
    }
    with pytest.raises(PagemindError) as caught:
        fuse_decoder_tensors(tensors, num_layers=1, path=tmp_path / "mixed.gguf")
    assert caught.value.key == "blk.0.attn_v.weight" and "--pure" in caught.value.fix


def write(writer: GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def refusal(path: Path) -> PagemindError:
    with pytest.raises(PagemindError) as caught:
        read_gguf(path)
    error = caught.value
    assert Path(error.file) == path and error.fix
    return error


def test_refuses_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("# not a model\n")
    assert "not a GGUF file" in refusal(path).message


@pytest.mark.parametrize("keep", [10, 3000, 0.5, -1])
def test_refuses_a_truncated_file(tmp_path: Path, keep: float) -> None:
    """Cut in the header, in the metadata, in the middle of the tensors, one byte short."""
    data = tiny_llama_gguf(tmp_path / "whole.gguf").read_bytes()
    end = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[:end])
    assert "truncated" in refusal(path).message


def test_refuses_an_unsupported_architecture(tmp_path: Path) -> None:
    error = refusal(tiny_llama_gguf(tmp_path / "mamba.gguf", architecture="mamba"))
    assert error.key == "general.architecture" and "'mamba'" in error.message


def test_refuses_k_quant_tensors_naming_the_tensor_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "k-quant.gguf"
    writer = GGUFWriter(path, "llama")
    q4_k_row = np.zeros((2, 144), np.uint8)  # 256 values per 144-byte Q4_K block
    writer.add_tensor("blk.0.ffn_down.weight", q4_k_row, raw_dtype=GGMLQuantizationType.Q4_K)
    write(writer)
    error = refusal(path)
    assert error.key == "blk.0.ffn_down.weight" and "Q4_K" in error.message
    assert "llama-quantize" in error.fix


def test_refuses_a_model_missing_a_block_weight(tmp_path: Path) -> None:
    path = tiny_llama_gguf(tmp_path / "missing.gguf", omit=["blk.1.ffn_up.weight"])
    assert refusal(path).key == "blk.1.ffn_up.weight"
