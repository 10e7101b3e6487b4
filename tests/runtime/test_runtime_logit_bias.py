"""The `logitBias` setting of a generation (runtime/generate.js): written into the program's
`logit_bias` buffer before every prefill, zeros when none is asked for, so it steers greedy
and sampled choices of its own generation only, as the numpy reference's logit_bias does."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES
from pagemind.models.generate import GREEDY, Sampler, generate
from pagemind.models.llama import Llama
from runtime_site import GENERATE, LOAD

NEW_TOKENS = 12
PROMPT = list(range(5, 26))
# (runtime settings, the reference's sampler for them)
SETTINGS = [
    pytest.param({}, GREEDY, id="greedy"),
    pytest.param(
        {"temperature": 0.2, "topP": 0.9, "repetitionPenalty": 1.1, "seed": 3},
        Sampler(
            temperature=0.2,
            top_p=0.9,
            repetition_penalty=1.1,
            seed=3,
            candidates=SAMPLING_CANDIDATES,
        ),
        id="sampled",
    ),
]


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_a_bias_steers_its_own_generation_only(
    runtime_host, tiny_site, tiny_model, settings, sampler
):
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS, sampler)
    favoured = next(token for token in range(tiny_model.config.vocab_size) if token not in expected)
    plain = {"maxTokens": NEW_TOKENS, **settings}
    biased_settings = {**plain, "logitBias": {"tokens": [favoured], "value": 1000}}

    before = run(GENERATE, {"prompt": PROMPT, "settings": plain})
    biased = run(GENERATE, {"prompt": PROMPT, "settings": biased_settings})
    after = run(GENERATE, {"prompt": PROMPT, "settings": {**plain, "logitBias": None}})

    assert biased["tokens"] == [favoured] * NEW_TOKENS
    assert before["tokens"] == after["tokens"] == expected


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_biased_tokens_follow_the_reference(runtime_host, tiny_site, tiny_model, settings, sampler):
    """Every fifth token made likelier: the model still chooses among them."""
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    favoured = list(range(0, tiny_model.config.vocab_size, 5))
    bias = np.zeros(tiny_model.config.vocab_size, np.float32)
    bias[favoured] = 10.0
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS, sampler, logit_bias=bias)
    logit_bias = {"tokens": favoured, "value": 10}

    result = run(
        GENERATE,
        {
            "prompt": PROMPT,
            "settings": {"maxTokens": NEW_TOKENS, "logitBias": logit_bias, **settings},
        },
    )

    assert expected != generate(Llama(tiny_model), PROMPT, NEW_TOKENS, sampler)
    assert result["tokens"] == expected


GENERATE_ERROR = """
async ({prompt, settings}) =>
  window.rt.generate(prompt, settings).then(() => null, (error) => error.message)
"""


def test_a_bias_the_model_cannot_take_is_refused(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    vocab = tiny_model.config.vocab_size
    refused = {
        f"{vocab} is not one of the model's {vocab} token ids": {"tokens": [3, vocab], "value": 5},
        "1.5 is not one of the model's": {"tokens": [1.5], "value": 5},
        "logitBias must be {tokens": {"tokens": [3]},
    }

    errors = {
        message: run(GENERATE_ERROR, {"prompt": PROMPT, "settings": {"logitBias": logit_bias}})
        for message, logit_bias in refused.items()
    }
    after = run(GENERATE, {"prompt": PROMPT, "settings": {"maxTokens": 4}})

    assert all(message in (error or "") for message, error in errors.items()), errors
    assert after["tokens"] == generate(Llama(tiny_model), PROMPT, 4)
