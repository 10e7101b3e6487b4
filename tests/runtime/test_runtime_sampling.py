"""Sampled answers chosen on the GPU (the program's sample phase, run by runtime/generate.js)
against the numpy reference's sampler (models/generate.py): the same seeded generator
(mulberry32), the same tokens for the same seed and settings, stops as greedy answers."""

from __future__ import annotations

import pytest
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES
from pagemind.models.generate import Sampler, generate, seeded_random
from pagemind.models.llama import Llama
from runtime_site import GENERATE, LOAD, build_runtime_site

NEW_TOKENS = 16
PROMPT = list(range(5, 26))

DRAWS = """
async ({seed, count}) => {
  const sampling = await import("./_pagemind/runtime/sampling.js");
  return Array.from({length: count}, sampling.seededRandom(seed));
}
"""


@pytest.mark.browser
def test_the_seeded_generator_draws_the_same_numbers(page, static_server, tmp_path):
    page.goto(static_server(build_runtime_site(tmp_path)))
    for seed in (0, 7, 2**32 - 1):
        python = seeded_random(seed)
        assert page.evaluate(DRAWS, {"seed": seed, "count": 100}) == [python() for _ in range(100)]


def reference_sampler(settings: dict) -> Sampler:
    return Sampler(
        temperature=settings["temperature"],
        top_k=settings.get("topK", 0),
        top_p=settings.get("topP", 1.0),
        repetition_penalty=settings.get("repetitionPenalty", 1.0),
        seed=settings["seed"],
        candidates=SAMPLING_CANDIDATES,
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"temperature": 0.2, "topP": 0.9, "repetitionPenalty": 1.1, "seed": 3},  # the assistant's
        {"temperature": 1.5, "topK": 20, "topP": 0.95, "seed": 1},
        {"temperature": 1.0, "repetitionPenalty": 1.3, "seed": 8},
    ],
    ids=["assistant", "top-k", "penalty"],
)
def test_sampled_tokens_follow_the_reference(runtime_host, tiny_site, tiny_model, settings):
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS, reference_sampler(settings))

    sampled = run(GENERATE, {"prompt": PROMPT, "settings": {"maxTokens": NEW_TOKENS, **settings}})
    stop_at = expected[5]
    stopped = run(
        GENERATE,
        {"prompt": PROMPT, "settings": {"maxTokens": 40, "stopIds": [stop_at], **settings}},
    )

    assert sampled["tokens"] == expected
    assert sampled["reason"] == "max-tokens"
    # Steps in flight past the stop id are discarded: the answer ends as it would unpipelined.
    assert stopped["reason"] == "stop-id"
    assert stopped["tokens"] == expected[: expected.index(stop_at)]
