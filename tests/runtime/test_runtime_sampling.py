"""runtime/sampling.js against the numpy reference's sampler (models/generate.py): the same
penalty and the same candidate set after temperature, top-k and top-p; seeded draws."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.models.generate import penalize_repetition
from runtime_site import build_runtime_site

pytestmark = pytest.mark.browser

DRAWS = 400

SAMPLE = """
async ({logits, history, settings, draws}) => {
  const sampling = await import("./_pagemind/runtime/sampling.js");
  const values = Float32Array.from(logits);
  const drawAll = (random) =>
    Array.from({length: draws}, () => sampling.sampleToken(values, history, settings, random));
  return {
    picks: drawAll(sampling.seededRandom(settings.seed)),
    replay: drawAll(sampling.seededRandom(settings.seed)),
    penalized: Array.from(sampling.penalizeRepetition(values, history, settings.repetitionPenalty)),
  };
}
"""


@pytest.fixture
def sample(page, static_server, tmp_path):
    page.goto(static_server(build_runtime_site(tmp_path)))
    logits = np.random.default_rng(0).standard_normal(50).astype(np.float32) * 2

    def run(history: list[int], **settings) -> dict:
        defaults = {"temperature": 0, "topK": 0, "topP": 1, "repetitionPenalty": 1, "seed": 7}
        arguments = {"settings": {**defaults, **settings}, "draws": DRAWS}
        return page.evaluate(SAMPLE, {"logits": logits.tolist(), "history": history, **arguments})

    return logits, run


def top(logits: np.ndarray, count: int) -> set[int]:
    return set(np.argsort(-logits, kind="stable")[:count].tolist())


def test_repetition_penalty_matches_the_reference(sample):
    logits, run = sample
    history = [int(np.argmax(logits)), 3, 3, 11]
    result = run(history, repetitionPenalty=1.3)
    expected = penalize_repetition(logits, history, 1.3)
    assert np.allclose(result["penalized"], expected, rtol=1e-6)
    assert set(result["picks"]) == {int(np.argmax(expected))}, "greedy takes the penalized best"


def test_top_k_and_top_p_keep_only_their_candidates(sample):
    logits, run = sample
    top_k = run([], temperature=1.0, topK=3)
    nucleus = run([], temperature=1.0, topP=0.5)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    ranked = np.sort(probabilities)[::-1]
    nucleus_size = int(np.searchsorted(np.cumsum(ranked), 0.5)) + 1

    assert set(top_k["picks"]) == top(logits, 3)
    assert set(nucleus["picks"]) == top(logits, nucleus_size)
    assert top_k["picks"] == top_k["replay"], "the same seed draws the same tokens"
    # The most likely candidate is drawn most often.
    assert max(set(top_k["picks"]), key=top_k["picks"].count) == int(np.argmax(logits))
