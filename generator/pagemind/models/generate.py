"""Token generation over the numpy reference: greedy or sampled, as the browser samples.

Sampling order, as in llama.cpp and Hugging Face: repetition penalty, temperature,
top-k, top-p, then a draw with mulberry32 (the browser's generator). The program samples
among its top_k best tokens (Sampler.candidates); the browser draws on the GPU exactly so.
A logit bias, if given, is added to the logits before any choice, greedy or sampled, as the
program adds its `logit_bias` buffer; then copy spans, if given, add their strength to the
tokens that would continue a passage of the sources the answer is copying, as the program's
`copy_span_bias` step does (add_copy_span_bias); the sources may name openings, passages the
answer is pushed to start with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from pagemind.models.llama import KVCache, Llama


@dataclass(frozen=True)
class Sampler:
    temperature: float = 0.0  # 0 picks the most likely token (greedy)
    top_k: int = 0  # 0 keeps every token
    top_p: float = 1.0
    repetition_penalty: float = 1.0  # > 1 discourages tokens the answer already wrote
    seed: int = 0
    candidates: int = 0  # the program's top_k, among which the GPU draws (0: every token)


GREEDY = Sampler()
U32_MASK = 0xFFFFFFFF

SPAN_SEPARATOR = U32_MASK  # ends each text in CopySpans.source: no match runs across it
ANSWER_START = U32_MASK - 1  # before an opening in CopySpans.source: where the answer starts
MAX_SPAN_MATCH = 4  # the answer's last tokens a copy match compares
MAX_COPY_SOURCE = 2048  # source tokens the program holds (copy_span_bias.wgsl's MAX_SOURCE)


@dataclass(frozen=True)
class CopySpans:
    """What copy-span bias reads: the token ids of the texts the answer may copy from, each
    followed by SPAN_SEPARATOR (at most MAX_COPY_SOURCE in all), and the bias it adds. A
    text that ANSWER_START precedes is an opening: the answer's first tokens match it."""

    source: list[int]
    strength: float


def seeded_random(seed: int) -> Callable[[], float]:
    """mulberry32, as runtime/sampling.js: the same seed gives the browser's draws."""
    state = seed & U32_MASK

    def draw() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & U32_MASK
        t = ((state ^ (state >> 15)) * (state | 1)) & U32_MASK
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & U32_MASK
        return ((t ^ (t >> 14)) & U32_MASK) / 4294967296

    return draw


def generate(
    model: Llama,
    prompt_ids: list[int],
    max_new_tokens: int,
    sampler: Sampler = GREEDY,
    stop_ids: Iterable[int] = (),
    logit_bias: np.ndarray | None = None,
    stop_at: Callable[[list[int]], bool] | None = None,
    copy_spans: CopySpans | None = None,
) -> list[int]:
    """The new tokens after `prompt_ids`, ending before the first stop token, or before the
    token with which `stop_at(tokens)` turns true (as the browser's stop strings end an
    answer). `logit_bias` (vocab_size values) is added to every step's logits before the
    choice, then `copy_spans`' bias (add_copy_span_bias)."""
    stops = set(stop_ids)
    random = seeded_random(sampler.seed)
    cache = KVCache()
    logits = model.forward(list(prompt_ids), cache)[-1]  # batched prefill
    generated: list[int] = []
    for _ in range(max_new_tokens):
        # Only the answer's own tokens are penalized: a grounded answer reuses the docs' words.
        biased = add_logit_bias(logits, logit_bias)
        if copy_spans is not None:
            biased = add_copy_span_bias(biased, copy_spans, generated)
        token = next_token(biased, generated, sampler, random())
        if token in stops or (stop_at and stop_at([*generated, token])):
            break
        generated.append(token)
        logits = model.forward([token], cache)[-1]
    return generated


def add_logit_bias(logits: np.ndarray, logit_bias: np.ndarray | None) -> np.ndarray:
    """`logits` plus the bias in f32, as the program's add_logit_bias step adds it."""
    if logit_bias is None:
        return logits
    return logits.astype(np.float32) + np.asarray(logit_bias, np.float32)


def add_copy_span_bias(logits: np.ndarray, spans: CopySpans, answer: list[int]) -> np.ndarray:
    """`logits` plus spans.strength, in f32, on every token that follows, in the source, the
    longest tail of `answer` found there (its last 1 to MAX_SPAN_MATCH tokens), each token
    once however often it follows. So an answer that has started to quote a name, an
    option or a command is pushed to go on quoting it as the docs write it, and a longer
    match (a phrase under way) outweighs a shorter one.

    The answer's start counts as a token of its own, ANSWER_START, before its first: the
    first token of each opening gets the bias, and an answer that has begun one matches it
    longer than anywhere else until it is past MAX_SPAN_MATCH - 1 tokens. Without openings,
    nothing is added before the answer's first token."""
    source, tail = spans.source[:MAX_COPY_SOURCE], [ANSWER_START, *answer][-MAX_SPAN_MATCH:]
    longest, following = 0, set()
    for end in range(len(source) - 1):
        after = source[end + 1]
        length = _match_length(source, end, tail) if after < ANSWER_START else 0
        if length > longest:
            longest, following = length, {after}
        elif length == longest and length:
            following.add(after)
    biased = logits.astype(np.float32)  # a copy: the caller's logits stay as they were
    if following:
        biased[sorted(following)] += np.float32(spans.strength)
    return biased


def _match_length(source: list[int], end: int, tail: list[int]) -> int:
    """How many of the last tokens of `tail` equal source[..end], read backwards."""
    length = 0
    while length < len(tail) and length <= end and source[end - length] == tail[-1 - length]:
        length += 1
    return length


def next_token(logits: np.ndarray, history: list[int], sampler: Sampler, random: float) -> int:
    """The token chosen after `history` with `random` in [0, 1), as the program's sample
    phase chooses it (shaders/sample.wgsl), in f32."""
    logits = penalize_repetition(logits.astype(np.float32), history, sampler.repetition_penalty)
    if sampler.temperature <= 0:
        return int(np.argmax(logits))
    candidates = np.argsort(-logits, kind="stable")
    for limit in (sampler.candidates, sampler.top_k):
        if limit > 0:
            candidates = candidates[:limit]
    return int(candidates[draw(logits[candidates], sampler, random)])


def draw(values: np.ndarray, sampler: Sampler, random: float) -> int:
    """The position drawn among candidate logits `values` (best first): weights
    exp((value - best) / temperature), the smallest prefix whose weight reaches top_p of
    the whole (at least one), then the first candidate whose running weight passes
    `random` times the prefix's."""
    temperature = np.float32(sampler.temperature)
    weights = np.exp((values.astype(np.float32) - values[0]) / temperature)
    cumulative = np.cumsum(weights, dtype=np.float32)
    target = np.float32(sampler.top_p) * cumulative[-1]
    kept = min(int(np.searchsorted(cumulative, target)) + 1, len(weights))
    remaining = np.float32(random) * cumulative[kept - 1]
    for position in range(kept):
        remaining -= weights[position]  # f32, in the order the kernel subtracts
        if remaining < 0:
            return position
    return kept - 1  # rounding left a sliver of `remaining`


def penalize_repetition(logits: np.ndarray, history: list[int], penalty: float) -> np.ndarray:
    """Make the tokens in `history` less likely: positive logits divided, negative multiplied."""
    if penalty == 1.0 or not history:
        return logits
    logits = logits.copy()
    seen = np.unique(np.asarray(history))
    logits[seen] = np.where(logits[seen] > 0, logits[seen] / penalty, logits[seen] * penalty)
    return logits
