"""What sets each supported decoder architecture apart from the plain Llama block.

The GGUF reader turns these traits into the model's DecoderConfig, which the numpy
reference (llama.py) and the program compiler (gpu/program.py) both follow:

- llama: llama.cpp's NORM rope (its converter permutes the Q/K rows into adjacent pairs).
  Llama 3.1 and later scale their rope by wavelength; the converter stores the result as
  one divisor of the frequency per pair of dimensions, `rope_freqs.weight`.
- qwen2: NEOX rope, a bias on Q, K and V.
- qwen3: NEOX rope and an RMS norm over each head of Q and of K before the rope
  (`blk.N.attn_q_norm`, `blk.N.attn_k_norm`, head_dim values each); its heads may be wider
  than hidden_size / heads (attention.key_length).
- gemma3: qwen3's head norms, and: the token embedding times sqrt(hidden_size); an RMS norm
  of the attention's and the FFN's outputs before each joins the residual
  (`post_attention_norm`, `post_ffw_norm`); GELU (tanh form) instead of SiLU in the gated
  FFN; five layers in six attend to a sliding window of the last attention.sliding_window
  positions, with a rope base of their own (10000), and every sixth to all positions, as
  llama.cpp runs it. Gemma's norms compute x * (1 + w); its GGUF converter stores 1 + w, so
  every norm here is the plain x * w.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pagemind.models.gguf_source import DecoderConfig

ROPE_FACTORS = "rope_freqs.weight"
HEAD_NORMS = ("attn_q_norm", "attn_k_norm")
POST_NORMS = ("post_attention_norm", "post_ffw_norm")
GEMMA3_LOCAL_ROPE_BASE = 10000.0
GEMMA3_GLOBAL_LAYER_EVERY = 6


@dataclass(frozen=True)
class Architecture:
    rope_interleaved: bool  # llama.cpp NORM rope; False is NEOX
    qk_norm: bool = False  # an RMS norm over each head of Q and K, before the rope
    scaled_rope: bool = False  # may carry ROPE_FACTORS
    gemma: bool = False  # gemma3's embedding scale, post norms, GELU and sliding windows


ARCHITECTURES = {
    "llama": Architecture(rope_interleaved=True, scaled_rope=True),
    "qwen2": Architecture(rope_interleaved=False),
    "qwen3": Architecture(rope_interleaved=False, qk_norm=True),
    "gemma3": Architecture(rope_interleaved=False, qk_norm=True, gemma=True),
}


def gemma_settings(
    size: Callable[[str], int], number: Callable[[str, float], float], hidden: int, layers: int
) -> dict[str, Any]:
    """The DecoderConfig fields of a gemma3 model; `size` and `number` read its metadata."""
    return {
        "embedding_scale": math.sqrt(hidden),
        "post_norms": True,
        "ffn_activation": "gelu_tanh",
        "sliding_window": size("attention.sliding_window"),
        "local_layers": tuple(
            block for block in range(layers) if (block + 1) % GEMMA3_GLOBAL_LAYER_EVERY
        ),
        "local_rope_theta": number("rope.freq_base_swa", GEMMA3_LOCAL_ROPE_BASE),
    }


def architecture_shapes(config: DecoderConfig) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(name, numpy shape) of the weights an architecture adds to the Llama block."""
    if config.scaled_rope:
        yield ROPE_FACTORS, (config.head_dim // 2,)
    for block in range(config.num_layers):
        for name in HEAD_NORMS if config.qk_norm else ():
            yield f"blk.{block}.{name}.weight", (config.head_dim,)
        for name in POST_NORMS if config.post_norms else ():
            yield f"blk.{block}.{name}.weight", (config.hidden_size,)
