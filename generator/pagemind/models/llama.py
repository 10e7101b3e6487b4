"""numpy reference of the Llama-family decoders (Llama, Qwen2, Qwen3, Gemma 3): the ground
truth for the GPU programs.

One forward pass, for T new tokens after the cached ones:

    x = token_embd[tokens] (* sqrt(hidden_size) for gemma3)
    for each block:
        h = rms_norm(x) -> q, k, v (+ bias for qwen2)
          -> rms_norm of each head of q and k (qwen3, gemma3) -> rope(q, k) -> cache k, v
        x = x + post_norm(attn_output(attention(q, cached k, cached v, causal, window)))
        x = x + post_norm(ffn_down(act(ffn_gate(rms_norm(x))) * ffn_up(rms_norm(x))))
    logits = output(rms_norm(x))      (output = token_embd when the head is tied)

act is SiLU (GELU for gemma3); post_norm is gemma3's RMS norm of each output, and its local
layers attend to a sliding window of positions with a rope base of their own.

The model's Q, K, V and gate, up matrices come fused (gguf_source.FUSED_WEIGHTS): one
product each, split into its parts' columns. A LoRA adapter (models/adapters.py) adds
B (A h) to the products it changes: W h + B (A h), never merged into W. Llama 3.1+
divides the rope's frequencies by rope_freqs.weight (models/architectures.py lists what
each architecture adds).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from pagemind.models import layers
from pagemind.models.adapters import Adapter
from pagemind.models.architectures import HEAD_NORMS, POST_NORMS, ROPE_FACTORS
from pagemind.models.gguf_source import DecoderConfig, GGUFModel

# The gated FFN's activation of (gate, up), by DecoderConfig.ffn_activation.
ACTIVATIONS = {"silu": layers.swiglu, "gelu_tanh": layers.geglu}


@dataclass
class Block:
    """One transformer block's weights, dequantized to float32 (n_out, n_in)."""

    attn_norm: np.ndarray
    attn_qkv: np.ndarray  # Q rows, then K, then V
    attn_output: np.ndarray
    ffn_norm: np.ndarray
    ffn_gate_up: np.ndarray  # gate rows, then up
    ffn_down: np.ndarray
    qkv_bias: np.ndarray | None
    attn_q_norm: np.ndarray | None  # qwen3, gemma3: weights of the RMS norm of each head
    attn_k_norm: np.ndarray | None
    post_attention_norm: np.ndarray | None  # gemma3: of the attention's output
    post_ffw_norm: np.ndarray | None  # gemma3: of the FFN's output


@dataclass
class KVCache:
    """Keys and values of every position seen so far, per block: (positions, n_kv, head_dim)."""

    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.keys[0].shape[0] if self.keys else 0

    def extend(self, block: int, keys: np.ndarray, values: np.ndarray) -> None:
        if block == len(self.keys):
            self.keys.append(keys)
            self.values.append(values)
        else:
            self.keys[block] = np.concatenate([self.keys[block], keys])
            self.values[block] = np.concatenate([self.values[block], values])


class Llama:
    def __init__(self, model: GGUFModel, adapter: Adapter | None = None) -> None:
        self.config: DecoderConfig = model.config
        self.adapter = adapter or {}
        # Dequantize once: every forward pass reuses the float32 matrices.
        weights = {name: tensor.dequantize() for name, tensor in model.tensors.items()}
        self.token_embedding = weights["token_embd.weight"]
        self.output_norm = weights["output_norm.weight"]
        self.output = weights.get("output.weight", self.token_embedding)
        self.rope_factors = weights.get(ROPE_FACTORS)
        optional = ("qkv_bias", *HEAD_NORMS, *POST_NORMS)
        matrices = [matrix.name for matrix in fields(Block) if matrix.name not in optional]
        self.blocks = [
            Block(
                **{name: weights[f"blk.{index}.{name}.weight"] for name in matrices},
                qkv_bias=weights.get(f"blk.{index}.attn_qkv.bias"),
                **{
                    name: weights.get(f"blk.{index}.{name}.weight")
                    for name in (*HEAD_NORMS, *POST_NORMS)
                },
            )
            for index in range(self.config.num_layers)
        ]

    def forward(self, tokens: list[int], cache: KVCache) -> np.ndarray:
        """Logits (len(tokens), vocab) for `tokens` following the positions in `cache`."""
        start = cache.length
        positions = np.arange(start, start + len(tokens))
        x = self.token_embedding[np.asarray(tokens)] * np.float32(self.config.embedding_scale)
        for index, block in enumerate(self.blocks):
            x = x + self._attention(block, index, x, positions, cache)
            x = x + self._feed_forward(block, index, x)
        x = layers.rms_norm(x, self.output_norm, self.config.rms_norm_eps)
        return x @ self.output.T

    def _attention(
        self, block: Block, index: int, x: np.ndarray, positions: np.ndarray, cache: KVCache
    ) -> np.ndarray:
        config = self.config
        h = layers.rms_norm(x, block.attn_norm, config.rms_norm_eps)
        qkv = self._product(h, index, "attn_qkv", block.attn_qkv)
        if block.qkv_bias is not None:
            qkv = qkv + block.qkv_bias
        qkv = qkv.reshape(len(x), -1, config.head_dim)
        heads = config.num_heads
        q, k, v = np.split(qkv, [heads, heads + config.num_kv_heads], axis=1)  # by heads
        if block.attn_q_norm is not None:
            q = layers.rms_norm(q, block.attn_q_norm, config.rms_norm_eps)
            k = layers.rms_norm(k, block.attn_k_norm, config.rms_norm_eps)
        theta = config.block_rope_theta(index)
        q, k = (
            layers.rope(part, positions, theta, config.rope_interleaved, self.rope_factors)
            for part in (q, k)
        )
        cached = int(positions[0])  # positions before the first new token
        cache.extend(index, k, v)
        keys, values = cache.keys[index], cache.values[index]
        context = layers.attention(q, keys, values, cached, window=config.window(index))
        output = self._product(context.reshape(len(x), -1), index, "attn_output", block.attn_output)
        return self._post_norm(output, block.post_attention_norm)

    def _feed_forward(self, block: Block, index: int, x: np.ndarray) -> np.ndarray:
        h = layers.rms_norm(x, block.ffn_norm, self.config.rms_norm_eps)
        gate, up = np.split(self._product(h, index, "ffn_gate_up", block.ffn_gate_up), 2, axis=-1)
        activated = ACTIVATIONS[self.config.ffn_activation](gate, up)
        output = self._product(activated, index, "ffn_down", block.ffn_down)
        return self._post_norm(output, block.post_ffw_norm)

    def _product(self, h: np.ndarray, index: int, name: str, weight: np.ndarray) -> np.ndarray:
        """h W^T, plus the adapter's (h A^T) B^T where it changes this weight."""
        y = h @ weight.T
        pair = self.adapter.get(f"blk.{index}.{name}.weight")
        return y if pair is None else y + (h @ pair.a.T) @ pair.b.T

    def _post_norm(self, output: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        """gemma3 normalizes an attention or FFN output before it joins the residual."""
        return (
            output if weight is None else layers.rms_norm(output, weight, self.config.rms_norm_eps)
        )
