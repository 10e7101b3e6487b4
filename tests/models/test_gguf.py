"""Reading GGUF files: the default model, small written models, and files it must refuse."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter, quants
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


def test_reads_a_q4_k_m_file_as_llama_quantize_mixes_it(tmp_path: Path) -> None:
    """Q4_K matrices with Q6_K attn_v and ffn_down in block 1 (of 2): blocks kept as stored;
    block 1's Q/K/V, whose parts differ in format, fused in Q8_0."""
    path = tiny_llama_gguf(
        tmp_path / "q4_k_m.gguf", matrix_format="Q4_K_M", hidden_size=256, intermediate_size=512
    )
    stored = {tensor.name: bytes(tensor.data) for tensor in GGUFReader(path).tensors}
    tensors = read_gguf(path).tensors
    formats = {name: tensor.format for name, tensor in tensors.items() if "blk." in name}
    assert formats["blk.0.attn_qkv.weight"] == formats["blk.1.ffn_gate_up.weight"] == "Q4_K"
    assert formats["blk.0.ffn_down.weight"] == formats["blk.1.attn_output.weight"] == "Q4_K"
    assert formats["blk.1.ffn_down.weight"] == "Q6_K"
    assert formats["blk.1.attn_qkv.weight"] == "Q8_0"
    assert bytes(tensors["blk.1.ffn_down.weight"].data) == stored["blk.1.ffn_down.weight"]
    reader = {tensor.name: tensor for tensor in GGUFReader(path).tensors}
    parts = [reader[f"blk.1.{part}.weight"] for part in ("attn_q", "attn_k", "attn_v")]
    assert [part.tensor_type.name for part in parts] == ["Q4_K", "Q4_K", "Q6_K"]
    exact = np.concatenate([quants.dequantize(part.data, part.tensor_type) for part in parts])
    fused = tensors["blk.1.attn_qkv.weight"].dequantize()
    # Q8_0's step is absmax / 127 per 32 values: far below Q4_K's, range / 15.
    assert np.abs(fused - exact).max() <= np.abs(exact).max() / 127


def test_fuses_parts_of_different_formats_in_the_finest_float_format(tmp_path: Path) -> None:
    rows = np.random.default_rng(0).standard_normal((32, 256)).astype(np.float32)
    tensors = {
        f"blk.0.ffn_{name}.weight": QuantTensor.from_array(name, rows, tensor_format)
        for name, tensor_format in (("gate", "Q4_K"), ("up", "F16"))
    }
    fused = fuse_decoder_tensors(tensors, num_layers=1, path=tmp_path / "mixed.gguf")
    gate_up = fused["blk.0.ffn_gate_up.weight"]
    assert gate_up.format == "F16" and gate_up.shape == (64, 256)
    expected = np.concatenate([tensors[name].dequantize() for name in tensors])
    np.testing.assert_allclose(gate_up.dequantize(), expected, rtol=1e-3, atol=1e-3)


def test_refuses_to_fuse_matrices_whose_rows_differ_in_length(tmp_path: Path) -> None:
    tensors = {
        f"blk.0.attn_{name}.weight": QuantTensor.from_array(name, np.ones((32, n_in)), "Q8_0")
        for name, n_in in (("q", 64), ("k", 64), ("v", 96))
    }
    with pytest.raises(PagemindError) as caught:
        fuse_decoder_tensors(tensors, num_layers=1, path=tmp_path / "mixed.gguf")
    assert caught.value.key == "blk.0.attn_v.weight" and "differ in length" in caught.value.message


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


def test_refuses_i_quant_tensors_naming_the_tensor_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "i-quant.gguf"
    writer = GGUFWriter(path, "llama")
    iq4_xs_rows = np.zeros((2, 136), np.uint8)  # 256 values per 136-byte IQ4_XS block
    writer.add_tensor("blk.0.ffn_down.weight", iq4_xs_rows, raw_dtype=GGMLQuantizationType.IQ4_XS)
    write(writer)
    error = refusal(path)
    assert error.key == "blk.0.ffn_down.weight" and "IQ4_XS" in error.message
    assert "llama-quantize" in error.fix and "Q4_K" in error.fix


def test_refuses_k_quant_rows_that_are_not_whole_super_blocks(tmp_path: Path) -> None:
    """llama-quantize never writes them (it falls back to Q5_0 / Q8_0 for such rows), but a
    file may hold them: named, rather than "damaged"."""
    path = tmp_path / "partial.gguf"
    writer = GGUFWriter(path, "llama")
    rows = np.zeros((2, 2 * 144), np.uint8)  # 2 rows of 2 super-blocks, 512 values each
    writer.add_tensor("blk.0.attn_q.weight", rows, raw_dtype=GGMLQuantizationType.Q4_K)
    write(writer)
    dims = struct.pack("<QQ", 512, 2)  # GGUF order: row length first
    data = path.read_bytes()
    assert data.count(dims) == 1
    path.write_bytes(data.replace(dims, struct.pack("<QQ", 576, 2)))
    error = refusal(path)
    assert error.key == "blk.0.attn_q.weight"
    assert "Q4_K with rows of 576 values, not whole blocks of 256" in error.message


def test_refuses_a_model_missing_a_block_weight(tmp_path: Path) -> None:
    path = tiny_llama_gguf(tmp_path / "missing.gguf", omit=["blk.1.ffn_up.weight"])
    assert refusal(path).key == "blk.1.ffn_up.weight"


def test_qwen3_reads_its_head_width_and_head_norms(tmp_path: Path) -> None:
    path = tiny_llama_gguf(tmp_path / "qwen3.gguf", architecture="qwen3", head_dim=32)
    model = read_gguf(path)
    config = model.config
    assert (config.hidden_size, config.num_heads, config.head_dim) == (64, 4, 32)
    assert config.qk_norm and not config.rope_interleaved and not config.attention_bias
    assert model.tensors["blk.1.attn_qkv.weight"].shape == (4 * 32 + 2 * 2 * 32, 64)
    assert model.tensors["blk.1.attn_k_norm.weight"].shape == (32,)


def test_refuses_a_qwen3_model_missing_a_head_norm(tmp_path: Path) -> None:
    path = tiny_llama_gguf(
        tmp_path / "qwen3.gguf", architecture="qwen3", omit=["blk.1.attn_k_norm.weight"]
    )
    assert refusal(path).key == "blk.1.attn_k_norm.weight"


LLAMA3_SCALING = {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}


def test_llama_reads_its_rope_frequency_factors(tmp_path: Path) -> None:
    path = tiny_llama_gguf(tmp_path / "llama3.gguf", rope_scaling=LLAMA3_SCALING)
    model = read_gguf(path)
    factors = model.tensors["rope_freqs.weight"].dequantize()
    assert model.config.scaled_rope and factors.shape == (8,)
    assert factors[0] == 1 and factors[-1] == 8, "short wavelengths kept, long ones slowed 8x"


def test_refuses_rope_frequency_factors_where_the_architecture_has_none(tmp_path: Path) -> None:
    path = tiny_llama_gguf(
        tmp_path / "qwen2.gguf", architecture="qwen2", rope_scaling=LLAMA3_SCALING
    )
    error = refusal(path)
    assert error.key == "rope_freqs.weight" and "qwen2" in error.message


def test_gemma3_reads_its_windows_and_embedding_scale(tmp_path: Path) -> None:
    path = tiny_llama_gguf(
        tmp_path / "gemma3.gguf", architecture="gemma3", num_layers=6, sliding_window=5
    )
    config = read_gguf(path).config
    assert config.qk_norm and config.post_norms and config.ffn_activation == "gelu_tanh"
    assert config.embedding_scale == 8.0  # sqrt(64)
    assert [config.window(block) for block in range(6)] == [5, 5, 5, 5, 5, None]
    assert config.block_rope_theta(0) == 10000.0 and config.block_rope_theta(5) == 10000.0


def test_refuses_a_gemma3_model_missing_a_post_norm(tmp_path: Path) -> None:
    path = tiny_llama_gguf(
        tmp_path / "gemma3.gguf", architecture="gemma3", omit=["blk.0.post_ffw_norm.weight"]
    )
    assert refusal(path).key == "blk.0.post_ffw_norm.weight"
