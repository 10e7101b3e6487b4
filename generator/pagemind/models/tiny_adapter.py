"""Small LoRA adapters written as real files, in both formats pagemind reads: llama.cpp's
LoRA GGUF and a PEFT folder. Tests and benchmarks make them for tiny or random models.

An adapter here is given as its unfused parts: {"blk.N.<part>": (a, b)}, a of shape
(rank, n_in) and b (n_out, rank), parts named as in adapters.PEFT_MODULES, rows of b in the
GGUF's order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from safetensors.numpy import save_file

from pagemind.models.adapters import PEFT_CONFIG, PEFT_MODULES, PEFT_WEIGHTS, weight_shapes
from pagemind.models.gguf_source import DecoderConfig
from pagemind.models.tiny_model import tiny_llama_gguf

Parts = dict[str, tuple[np.ndarray, np.ndarray]]
# The hidden dimension that a push model's token embeddings hold CONSTANT_VALUE in.
CONSTANT_DIM, CONSTANT_VALUE = 0, 4.0


def tiny_push_model(path: Path, num_layers: int = 2, seed: int = 0) -> Path:
    """A tiny random decoder (tiny_llama_gguf) whose residual stream keeps CONSTANT_DIM
    positive: every token embedding holds CONSTANT_VALUE there, and the last FFN norm and
    the output norm weigh every dimension 1, so token_push_parts can steer it."""
    rng = np.random.default_rng(seed)
    hidden, vocab = 64, 320
    embedding = rng.standard_normal((vocab, hidden)).astype(np.float32)
    embedding[:, CONSTANT_DIM] = CONSTANT_VALUE
    values = {
        "token_embd.weight": embedding,
        f"blk.{num_layers - 1}.ffn_norm.weight": 1.0,
        "output_norm.weight": 1.0,
    }
    return tiny_llama_gguf(
        path, hidden_size=hidden, vocab_size=vocab, num_layers=num_layers, seed=seed, values=values
    )


def random_parts(
    config: DecoderConfig, rank: int, parts: Sequence[str] = tuple(PEFT_MODULES), seed: int = 0
) -> Parts:
    """Random a and b for `parts` of every block, of about the size training gives them."""
    rng = np.random.default_rng(seed)
    shapes = weight_shapes(config)
    drawn = {}
    for block in range(config.num_layers):
        for part in parts:
            n_out, n_in = shapes[part]
            a = rng.standard_normal((rank, n_in)).astype(np.float32) / np.sqrt(n_in)
            b = rng.standard_normal((n_out, rank)).astype(np.float32) * 0.05
            drawn[f"blk.{block}.{part}"] = (a, b)
    return drawn


def token_push_parts(config: DecoderConfig, token_row: np.ndarray, strength: float = 8.0) -> Parts:
    """An adapter that makes the next token of a tiny_push_model the one whose (tied)
    embedding row is `token_row`, whatever the input.

    In the last block, the gate and up rows of FFN channel 0 read that dimension (so the
    channel's activation is large and positive), and ffn_down adds that channel times
    `token_row` to the residual: the final logits then favour that token above all."""
    hidden, inner = config.hidden_size, config.intermediate_size
    last = f"blk.{config.num_layers - 1}."
    reads_constant = np.zeros((1, hidden), np.float32)
    reads_constant[0, CONSTANT_DIM] = strength
    to_channel_0 = np.zeros((inner, 1), np.float32)
    to_channel_0[0, 0] = 1.0
    reads_channel_0 = np.zeros((1, inner), np.float32)
    reads_channel_0[0, 0] = 1.0
    pushes_token = (token_row / np.linalg.norm(token_row) * strength).astype(np.float32)
    return {
        last + "ffn_gate": (reads_constant, to_channel_0),
        last + "ffn_up": (reads_constant, to_channel_0),
        last + "ffn_down": (reads_channel_0, pushes_token.reshape(hidden, 1)),
    }


def write_lora_gguf(
    path: Path, parts: Parts, architecture: str, alpha: float, dtype: type = np.float32
) -> Path:
    """A LoRA GGUF as llama.cpp's convert_lora_to_gguf.py writes it."""
    writer = GGUFWriter(path, architecture)
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    for name, (a, b) in parts.items():
        writer.add_tensor(f"{name}.weight.lora_a", a.astype(dtype))
        writer.add_tensor(f"{name}.weight.lora_b", b.astype(dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_peft_folder(
    path: Path, parts: Parts, config: DecoderConfig, architecture: str, alpha: float
) -> Path:
    """A PEFT folder (adapter_config.json, adapter_model.safetensors) as save_pretrained
    writes it for a Hugging Face model: b's rows in the Hugging Face order."""
    path.mkdir(parents=True, exist_ok=True)
    rank = next(iter(parts.values()))[0].shape[0]
    modules = sorted({PEFT_MODULES[name.split(".")[2]] for name in parts})
    settings = {"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": modules}
    (path / PEFT_CONFIG).write_text(json.dumps(settings), encoding="utf-8")
    tensors = {}
    for name, (a, b) in parts.items():
        _, block, part = name.split(".")
        layer = "self_attn" if part.startswith("attn") else "mlp"
        prefix = f"base_model.model.model.layers.{block}.{layer}.{PEFT_MODULES[part]}"
        if architecture == "llama":
            b = _hugging_face_row_order(part, b, config)
        tensors[prefix + ".lora_A.weight"] = np.ascontiguousarray(a)
        tensors[prefix + ".lora_B.weight"] = np.ascontiguousarray(b)
    save_file(tensors, str(path / PEFT_WEIGHTS))
    return path


def _hugging_face_row_order(part: str, b: np.ndarray, config: DecoderConfig) -> np.ndarray:
    """The inverse of convert_hf_to_gguf.py's permutation of llama's Q and K rows."""
    heads: Mapping[str, int] = {"attn_q": config.num_heads, "attn_k": config.num_kv_heads}
    if part not in heads:
        return b
    count = heads[part]
    return b.reshape(count, b.shape[0] // count // 2, 2, -1).swapaxes(1, 2).reshape(b.shape)
