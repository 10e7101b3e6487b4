"""The `logitBias` and `copySpans` settings of a generation (runtime/generate.js): written
into the program's `logit_bias` and `copy_source` buffers before every prefill, zeros when
none is asked for, so they steer greedy and sampled choices of their own generation only, as
the numpy reference's logit_bias and copy_spans do."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES
from pagemind.models.generate import (
    ANSWER_START,
    GREEDY,
    MAX_COPY_SOURCE,
    SPAN_SEPARATOR,
    CopySpans,
    Sampler,
    generate,
)
from pagemind.models.llama import Llama
from runtime_site import GENERATE, LOAD, RunCheck

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


def _loaded(runtime_host, tiny_site) -> RunCheck:
    """The runtime with the tiny model loaded."""
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    return run


def _around(run: RunCheck, plain: dict, setting: str, value: dict) -> tuple[list, ...]:
    """The tokens of generations with the `plain` settings, then `setting` at `value`, then
    `setting` at None."""
    settings = [plain, {**plain, setting: value}, {**plain, setting: None}]
    return tuple(run(GENERATE, {"prompt": PROMPT, "settings": s})["tokens"] for s in settings)


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_a_bias_steers_its_own_generation_only(
    runtime_host, tiny_site, tiny_model, settings, sampler
):
    run = _loaded(runtime_host, tiny_site)
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS, sampler)
    favoured = next(token for token in range(tiny_model.config.vocab_size) if token not in expected)
    plain = {"maxTokens": NEW_TOKENS, **settings}
    bias = {"tokens": [favoured], "value": 1000}

    before, biased, after = _around(run, plain, "logitBias", bias)

    assert biased == [favoured] * NEW_TOKENS
    assert before == after == expected


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_biased_tokens_follow_the_reference(runtime_host, tiny_site, tiny_model, settings, sampler):
    """Every fifth token made likelier: the model still chooses among them."""
    run = _loaded(runtime_host, tiny_site)
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


def _assert_refused(run: RunCheck, setting: str, refused: dict, tiny_model) -> None:
    """Each value of `setting` in `refused` fails with an error holding its key; a
    generation after them is as the reference's."""
    errors = {
        message: run(GENERATE_ERROR, {"prompt": PROMPT, "settings": {setting: value}})
        for message, value in refused.items()
    }
    after = run(GENERATE, {"prompt": PROMPT, "settings": {"maxTokens": 4}})

    assert all(message in (error or "") for message, error in errors.items()), errors
    assert after["tokens"] == generate(Llama(tiny_model), PROMPT, 4)


def test_a_bias_the_model_cannot_take_is_refused(runtime_host, tiny_site, tiny_model):
    run = _loaded(runtime_host, tiny_site)
    vocab = tiny_model.config.vocab_size
    refused = {
        f"{vocab} is not one of the model's {vocab} token ids": {"tokens": [3, vocab], "value": 5},
        "1.5 is not one of the model's": {"tokens": [1.5], "value": 5},
        "logitBias must be {tokens": {"tokens": [3]},
    }

    _assert_refused(run, "logitBias", refused, tiny_model)


def _copy_source(answer: list[int], vocab_size: int) -> list[int]:
    """Copy spans over a plain answer: each of its tokens followed by another, a phrase of
    it further on followed by 99, and its first three tokens followed by 77 as an opening
    (after ANSWER_START), which the longest match chooses over the phrase's continuation;
    each text ended by the separator."""
    others = np.random.default_rng(0).integers(0, vocab_size, len(answer)).tolist()
    texts = [[token, other] for token, other in zip(answer, others, strict=True)]
    texts += [[*answer[2:6], 99], [ANSWER_START, *answer[:3], 77]]
    return [token for text in texts for token in (*text, SPAN_SEPARATOR)]


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_copy_spans_steer_their_own_generation_only(
    runtime_host, tiny_site, tiny_model, settings, sampler
):
    run = _loaded(runtime_host, tiny_site)
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS, sampler)
    # Once the answer has written its first token, the source's text goes on from there.
    quoted = [expected[0], 7, 8, 9]
    plain = {"maxTokens": NEW_TOKENS, **settings}
    spans = {"source": [*quoted, SPAN_SEPARATOR], "value": 1000}

    before, copying, after = _around(run, plain, "copySpans", spans)

    assert copying[:4] == quoted
    assert before == after == expected


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_an_opening_steers_the_answers_start(
    runtime_host, tiny_site, tiny_model, settings, sampler
):
    run = _loaded(runtime_host, tiny_site)
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS, sampler)
    opening = [token for token in (7, 8, 9, 10) if token != expected[0]][:3]
    plain = {"maxTokens": NEW_TOKENS, **settings}
    spans = {"source": [ANSWER_START, *opening, SPAN_SEPARATOR], "value": 1000}

    before, copying, after = _around(run, plain, "copySpans", spans)

    assert copying[:3] == opening
    assert before == after == expected


@pytest.mark.parametrize(("settings", "sampler"), SETTINGS)
def test_copy_spans_follow_the_reference(runtime_host, tiny_site, tiny_model, settings, sampler):
    run = _loaded(runtime_host, tiny_site)
    model = Llama(tiny_model)
    plain = generate(model, PROMPT, NEW_TOKENS, sampler)
    spans = CopySpans(_copy_source(plain, tiny_model.config.vocab_size), 3.0)
    expected = generate(model, PROMPT, NEW_TOKENS, sampler, copy_spans=spans)
    copy_spans = {"source": spans.source, "value": spans.strength}

    result = run(
        GENERATE,
        {
            "prompt": PROMPT,
            "settings": {"maxTokens": NEW_TOKENS, "copySpans": copy_spans, **settings},
        },
    )

    assert expected[3] == 77 != plain[3]  # the longest match decided
    assert result["tokens"] == expected


def test_copy_spans_the_model_cannot_take_are_refused(runtime_host, tiny_site, tiny_model):
    run = _loaded(runtime_host, tiny_site)
    vocab = tiny_model.config.vocab_size
    refused = {
        f"{vocab} is neither one of the model's {vocab} token ids": {
            "source": [3, vocab, SPAN_SEPARATOR],
            "value": 5,
        },
        "1.5 is neither one of the model's": {"source": [1.5], "value": 5},
        f"more than the {MAX_COPY_SOURCE} the program holds": {
            "source": [3] * (MAX_COPY_SOURCE + 1),
            "value": 5,
        },
        "copySpans must be {source": {"source": [3]},
        "copySpans must be {source: [token ids": {"source": 3, "value": 5},
    }

    _assert_refused(run, "copySpans", refused, tiny_model)


def test_a_program_without_copy_spans_generates_without_them(runtime_host, tiny_site, tiny_model):
    """A program built before copy spans (no copy_source buffer, no copy_span_bias step)."""
    root, urls = tiny_site
    program_file = root / urls.programUrl
    program = json.loads(program_file.read_text(encoding="utf-8"))
    for buffer in ("copy_source", "copy_tail"):
        del program["buffers"][buffer]
    for phase in program["phases"].values():
        phase["steps"] = [step for step in phase["steps"] if step["kernel"] != "copy_span_bias"]
    program_file.write_text(json.dumps(program), encoding="utf-8")
    run = _loaded(runtime_host, tiny_site)
    copy_spans = {"source": [3, SPAN_SEPARATOR], "value": 5}

    error = run(GENERATE_ERROR, {"prompt": PROMPT, "settings": {"copySpans": copy_spans}})
    result = run(GENERATE, {"prompt": PROMPT, "settings": {"maxTokens": 4}})

    assert "no copy_source buffer" in error
    assert result["tokens"] == generate(Llama(tiny_model), PROMPT, 4)
