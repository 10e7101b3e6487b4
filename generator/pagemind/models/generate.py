"""Token generation over the numpy reference: greedy or sampled, as the browser samples.

Sampling order, as in llama.cpp and Hugging Face: repetition penalty, temperature,
top-k, top-p, then a draw from a seeded numpy Generator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pagemind.models import layers
from pagemind.models.llama import KVCache, Llama


@dataclass(frozen=True)
class Sampler:
    temperature: float = 0.0  # 0 picks the most likely token (greedy)
    top_k: int = 0  # 0 keeps every token
    top_p: float = 1.0
    repetition_penalty: float = 1.0  # > 1 discourages tokens the answer already wrote
    seed: int = 0


GREEDY = Sampler()


def generate(
    model: Llama,
    prompt_ids: list[int],
    max_new_tokens: int,
    sampler: Sampler = GREEDY,
    stop_ids: Iterable[int] = (),
) -> list[int]:
    """The new tokens after `prompt_ids`, ending before the first stop token."""
    stops = set(stop_ids)
    rng = np.random.default_rng(sampler.seed)
    cache = KVCache()
    logits = model.forward(list(prompt_ids), cache)[-1]  # batched prefill
    generated: list[int] = []
    for _ in range(max_new_tokens):
        # Only the answer's own tokens are penalized: a grounded answer reuses the docs' words.
        token = next_token(logits, generated, sampler, rng)
        if token in stops:
            break
        generated.append(token)
        logits = model.forward([token], cache)[-1]
    return generated


def next_token(
    logits: np.ndarray, history: list[int], sampler: Sampler, rng: np.random.Generator
) -> int:
    logits = penalize_repetition(logits, history, sampler.repetition_penalty)
    if sampler.temperature <= 0:
        return int(np.argmax(logits))
    probabilities = layers.softmax(logits / np.float32(sampler.temperature))
    candidates = np.argsort(-probabilities, kind="stable")
    if sampler.top_k > 0:
        candidates = candidates[: sampler.top_k]
    kept = probabilities[candidates]
    # Keep the smallest prefix whose probability reaches top_p (at least one token).
    cutoff = int(np.searchsorted(np.cumsum(kept), sampler.top_p * kept.sum())) + 1
    candidates, kept = candidates[:cutoff], kept[:cutoff]
    return int(rng.choice(candidates, p=kept / kept.sum()))


def penalize_repetition(logits: np.ndarray, history: list[int], penalty: float) -> np.ndarray:
    """Make the tokens in `history` less likely: positive logits divided, negative multiplied."""
    if penalty == 1.0 or not history:
        return logits
    logits = logits.copy()
    seen = np.unique(np.asarray(history))
    logits[seen] = np.where(logits[seen] > 0, logits[seen] / penalty, logits[seen] * penalty)
    return logits
