"""The numpy reference of the architectures beyond the default model's (Qwen3's head norms,
Llama 3's scaled rope, Gemma 3's block) against transformers, on small random models
(fixture written by tests/fixtures/make_architecture_reference.py)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pagemind.models import layers
from pagemind.models.generate import generate
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_model import tiny_llama_gguf
from paths import REPO

REFERENCE = json.loads(
    (REPO / "tests" / "fixtures" / "architecture_reference.json").read_text(encoding="utf-8")
)
PROMPT = REFERENCE["prompt"]
# Both sides dequantize the same blocks to float32; what is left is summation order.
LOGIT_TOLERANCE = 2e-4


def reference_model(name: str, folder: Path) -> Llama:
    arguments = REFERENCE["models"][name]["arguments"]
    return Llama(read_gguf(tiny_llama_gguf(folder / f"{name}.gguf", **arguments)))


@pytest.mark.parametrize("name", REFERENCE["models"])
def test_top_logits_at_every_position_match_transformers(name: str, tmp_path: Path) -> None:
    expected = REFERENCE["models"][name]
    logits = reference_model(name, tmp_path).forward(PROMPT, KVCache())
    top_ids = np.array(expected["top_ids"])
    assert (np.argsort(-logits, axis=-1, kind="stable")[:, : top_ids.shape[1]] == top_ids).all()
    np.testing.assert_allclose(
        np.take_along_axis(logits, top_ids, axis=-1),
        expected["top_logits"],
        rtol=0,
        atol=LOGIT_TOLERANCE,
    )


@pytest.mark.parametrize("name", REFERENCE["models"])
def test_greedy_tokens_match_transformers(name: str, tmp_path: Path) -> None:
    greedy = REFERENCE["models"][name]["greedy"]
    assert generate(reference_model(name, tmp_path), PROMPT, len(greedy)) == greedy


def without_head_norms(model: Llama) -> None:
    for block in model.blocks:
        block.attn_q_norm = block.attn_k_norm = None


def without_rope_factors(model: Llama) -> None:
    model.rope_factors = None


def without_post_norms(model: Llama) -> None:
    for block in model.blocks:
        block.post_attention_norm = block.post_ffw_norm = None


def without_sliding_windows(model: Llama) -> None:
    model.config = dataclasses.replace(model.config, sliding_window=1 << 20)


@pytest.mark.parametrize(
    ("name", "ablation"),
    [
        ("qwen3-head_dim-32-Q8_0", without_head_norms),
        ("llama3-rope-scaling-Q4_1", without_rope_factors),
        ("gemma3-sliding-window-Q8_0", without_head_norms),
        ("gemma3-sliding-window-Q8_0", without_post_norms),
        ("gemma3-sliding-window-Q8_0", without_sliding_windows),
    ],
)
def test_each_architecture_trait_changes_the_logits(
    name: str, ablation: Callable[[Llama], None], tmp_path: Path
) -> None:
    """The fixtures would not notice a trait the reference ignored: without it, the last
    position's logits are far from transformers'."""
    model = reference_model(name, tmp_path)
    ablation(model)
    last = model.forward(PROMPT, KVCache())[-1]
    expected = REFERENCE["models"][name]
    top_logits = last[np.array(expected["top_ids"][-1])]
    assert np.abs(top_logits - expected["top_logits"][-1]).max() > 0.1


def test_rope_frequency_factors_slow_each_pair_down() -> None:
    """A pair whose frequency is divided by f at position p turns as it would at p / f."""
    x = np.random.default_rng(0).standard_normal((1, 2, 8)).astype(np.float32)
    factors = np.array([1.0, 2.0, 4.0, 8.0])
    scaled = layers.rope(x, np.array([8]), 1e4, interleaved=False, frequency_factors=factors)
    for pair, factor in enumerate(factors):
        plain = layers.rope(x, np.array([8 / factor]), 1e4, interleaved=False)
        np.testing.assert_allclose(scaled[..., pair::4], plain[..., pair::4], atol=1e-6)
