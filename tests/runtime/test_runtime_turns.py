"""A conversation's later turns reuse the KV cache: a prompt that starts with the previous
prompt and answer prefills only its new tokens and still gives the tokens of a fresh run. A
prompt or an answer that would not fit the program's context is refused or cut short with a
clear reason. In Chromium's Web Worker and under Node, on the tiny random decoder."""

from __future__ import annotations

import numpy as np
from pagemind.gpu.compare import relative_error
from pagemind.models.generate import generate
from pagemind.models.llama import KVCache, Llama
from runtime_site import GENERATE, LOAD

CONTEXT = 64  # tiny_site's program
NEW_TOKENS = 8
TOLERANCE = 1e-4

# The same prompt in a runtime of its own: nothing cached.
FRESH = """
async ({urls, prompt, settings}) => {
  const rt = await window.createRuntime();
  await rt.load(urls);
  const result = await rt.generate(prompt, settings);
  const logits = Array.from(new Float32Array(await rt.debugRead("logits")));
  return {...result, logits};
}
"""


def test_a_follow_up_prefills_only_its_new_tokens(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)
    ids = np.random.default_rng(5).integers(0, tiny_model.config.vocab_size, 40).tolist()
    first_prompt = ids[:21]  # two prefill chunks of tiny_site's 16 rows
    settings = {"maxTokens": NEW_TOKENS}
    reference = Llama(tiny_model)

    run(LOAD, urls.__dict__)
    first = run(GENERATE, {"prompt": first_prompt, "settings": settings})
    follow_up = first_prompt + first["tokens"] + ids[21:26]
    second = run(GENERATE, {"prompt": follow_up, "settings": settings})
    fresh = run(FRESH, {"urls": urls.__dict__, "prompt": follow_up, "settings": settings})
    # A prompt that leaves the conversation halfway: the cache is kept up to there.
    branch = first_prompt[:10] + ids[30:40]
    branched = run(GENERATE, {"prompt": branch, "settings": settings})

    assert first["reused"] == 0
    # The answer's last token never ran through the model: the follow-up runs it, then the rest.
    assert second["reused"] == len(first_prompt) + NEW_TOKENS - 1
    assert fresh["reused"] == 0
    assert second["tokens"] == fresh["tokens"] == generate(reference, follow_up, NEW_TOKENS)
    last_logits = reference.forward(follow_up + second["tokens"][:-1], KVCache())[-1]
    assert relative_error(np.array(second["logits"], np.float32), last_logits) < TOLERANCE
    assert branched["reused"] == 10
    assert branched["tokens"] == generate(reference, branch, NEW_TOKENS)


def test_the_context_length_bounds_prompt_and_answer(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)
    prompt = list(range(3, 3 + CONTEXT - 4))
    too_long = list(range(3, 3 + CONTEXT + 1))

    loaded = run(LOAD, urls.__dict__)
    filled = run(GENERATE, {"prompt": prompt, "settings": {"maxTokens": 50}})
    refused = run(
        "(prompt) => window.rt.generate(prompt).then(() => null, (error) => error.message)",
        too_long,
    )
    after = run(GENERATE, {"prompt": prompt[:20], "settings": {"maxTokens": NEW_TOKENS}})

    assert loaded["info"]["contextLength"] == CONTEXT
    # Positions 60..63 take the first four answer tokens; the fifth is chosen at the last one.
    assert filled["reason"] == "context-full"
    assert filled["tokens"] == generate(Llama(tiny_model), prompt, 5)
    assert refused is not None
    assert f"{CONTEXT + 1} tokens" in refused and f"context of {CONTEXT}" in refused
    assert after["tokens"] == generate(Llama(tiny_model), prompt[:20], NEW_TOKENS)


def test_a_follow_up_after_a_stop_id_reuses_only_the_accepted_tokens(
    runtime_host, tiny_site, tiny_model
):
    """Greedy steps run ahead of the tokens read back: the steps past a stop id are
    discarded, and the KV positions they wrote are prefilled again by the next turn."""
    root, urls = tiny_site
    run = runtime_host(root)
    ids = np.random.default_rng(5).integers(0, tiny_model.config.vocab_size, 40).tolist()
    first_prompt = ids[:21]
    reference = Llama(tiny_model)
    greedy = generate(reference, first_prompt, NEW_TOKENS)
    stop_id = greedy[3]
    accepted = greedy[: greedy.index(stop_id)]

    run(LOAD, urls.__dict__)
    first = run(
        GENERATE, {"prompt": first_prompt, "settings": {"maxTokens": 40, "stopIds": [stop_id]}}
    )
    follow_up = first_prompt + first["tokens"] + ids[21:26]
    second = run(GENERATE, {"prompt": follow_up, "settings": {"maxTokens": NEW_TOKENS}})

    assert len(accepted) == 3, "the stop comes while later steps are in flight"
    assert first["reason"] == "stop-id"
    assert first["tokens"] == accepted
    # Every accepted token ran through the model; the stop id and the steps after it did not.
    assert second["reused"] == len(first_prompt) + len(accepted)
    assert second["tokens"] == generate(reference, follow_up, NEW_TOKENS)
