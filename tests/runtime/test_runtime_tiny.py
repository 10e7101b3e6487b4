"""The browser runtime on a tiny random decoder: the program executed by runtime/ in a Web
Worker on Chromium's WebGPU (SwiftShader), and under Node on Dawn, against the numpy
reference, plus the loader's progress, Cache Storage and sha256 checks (Chromium only)."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.compare import relative_error
from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.generate import Sampler, generate
from pagemind.models.llama import KVCache, Llama
from runtime_site import GENERATE, LOAD

TOLERANCE = 1e-4  # logits relative to their scale, as the wgpu-py program check
PROMPT_LENGTH = 21  # more than the 16 rows of tiny_site: the prompt is prefilled in two chunks
NEW_TOKENS = 8


def shard_requests(page) -> list[str]:
    """URLs of model shards the page and its workers ask the network for, as they happen."""
    requests: list[str] = []
    page.context.on("request", lambda r: requests.append(r.url) if r.url.endswith(".bin") else None)
    return requests


def test_greedy_tokens_and_logits_follow_the_reference(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)
    prompt = np.random.default_rng(3).integers(0, tiny_model.config.vocab_size, PROMPT_LENGTH)
    reference = Llama(tiny_model)
    expected = generate(reference, prompt.tolist(), NEW_TOKENS)

    loaded = run(LOAD, urls.__dict__)
    result = run(GENERATE, {"prompt": prompt.tolist(), "settings": {"maxTokens": NEW_TOKENS}})

    assert loaded["info"]["cpu"], "SwiftShader is a CPU adapter: the rows variant must run"
    assert result["tokens"] == expected
    assert result["streamed"] == expected
    assert result["reason"] == "max-tokens"
    # The logits buffer holds the step that chose the last token.
    last_logits = reference.forward(prompt.tolist() + expected[:-1], KVCache())[-1]
    assert relative_error(np.array(result["logits"], np.float32), last_logits) < TOLERANCE


def test_sampling_settings_and_stop_ids(runtime_host, tiny_site):
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    prompt = list(range(5, 5 + PROMPT_LENGTH))
    greedy = run(GENERATE, {"prompt": prompt, "settings": {"maxTokens": NEW_TOKENS}})
    sampled = {"maxTokens": NEW_TOKENS, "temperature": 1.5, "topK": 40, "topP": 0.95, "seed": 1}
    first = run(GENERATE, {"prompt": prompt, "settings": sampled})
    again = run(GENERATE, {"prompt": prompt, "settings": sampled})
    stop_at = greedy["tokens"][3]
    stopped = run(GENERATE, {"prompt": prompt, "settings": {"maxTokens": 50, "stopIds": [stop_at]}})

    assert first["tokens"] == again["tokens"], "a seed replays the same tokens"
    assert first["tokens"] != greedy["tokens"]
    assert stopped["reason"] == "stop-id"
    assert stopped["tokens"] == greedy["tokens"][: greedy["tokens"].index(stop_at)]


def test_a_repetition_penalty_chooses_on_the_gpu(runtime_host, tiny_site, tiny_model):
    """A repetition penalty runs the sample phase after each step: its choice, not the
    step's greedy pick, is the token the next decode step embeds."""
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    prompt = list(range(5, 5 + PROMPT_LENGTH))
    count = 24  # long enough for the answer to repeat itself
    penalized = generate(Llama(tiny_model), prompt, count, Sampler(repetition_penalty=1.5))

    result = run(
        GENERATE, {"prompt": prompt, "settings": {"maxTokens": count, "repetitionPenalty": 1.5}}
    )

    assert penalized != generate(Llama(tiny_model), prompt, count), "the penalty changes tokens"
    assert result["tokens"] == penalized


# Stops the generation once its second token has streamed in.
STOP_EARLY = """
async (prompt) => {
  let count = 0;
  return window.rt.generate(prompt, {maxTokens: 40}, () => ++count === 2 && window.rt.stop());
}
"""


def test_stop_and_stop_strings_end_the_answer(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    tokenizer = bpe_tokenizer(tiny_model.tokenizer_spec)
    prompt = "the sea and the sand"
    greedy = run(GENERATE, {"prompt": prompt, "settings": {"maxTokens": 12}})
    stop = tokenizer.decode(greedy["tokens"][5:7])
    # The first token that makes the text contain the stop string ends the answer, unsent.
    cut = next(i for i in range(12) if stop in tokenizer.decode(greedy["tokens"][: i + 1]))

    stopped = run(STOP_EARLY, prompt)
    at_string = run(
        GENERATE, {"prompt": prompt, "settings": {"maxTokens": 12, "stopStrings": [stop]}}
    )

    # A text prompt goes through the worker's tokenizer.
    assert greedy["tokens"] == generate(Llama(tiny_model), tokenizer.encode(prompt).ids, 12)
    assert greedy["text"] == tokenizer.decode(greedy["tokens"])
    assert stopped["reason"] == "stopped"
    assert 2 <= len(stopped["tokens"]) < 40
    assert stopped["tokens"] == greedy["tokens"][: len(stopped["tokens"])]
    assert stop and at_string["reason"] == "stop-string"
    assert at_string["tokens"] == greedy["tokens"][:cut]


@pytest.mark.browser
def test_progress_then_the_second_load_reads_the_cache(page, static_server, tiny_site):
    root, urls = tiny_site
    shard_files = sorted(path.name for path in (root / "models" / "tiny").glob("*.bin"))
    total = sum((root / "models" / "tiny" / name).stat().st_size for name in shard_files)
    requests = shard_requests(page)
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")

    first = page.evaluate(LOAD, urls.__dict__)
    requested_first = sorted(url.rsplit("/", 1)[1] for url in requests)
    requests.clear()
    second = page.evaluate(LOAD, urls.__dict__)

    assert requested_first == shard_files
    assert first["progress"][-1] == {"loaded": total, "total": total, "source": "network"}
    loaded = [event["loaded"] for event in first["progress"]]
    assert loaded == sorted(loaded), "progress only moves forward"
    assert requests == [], "the second load reads every shard from Cache Storage"
    assert {event["source"] for event in second["progress"]} == {"cache"}
    assert second["progress"][-1]["loaded"] == total


# Cuts the cached copy of one shard short, as a storage write that broke off would leave it.
TRUNCATE_CACHED = """
async (name) => {
  const cache = await caches.open("pagemind-models");
  const key = (await cache.keys()).find((request) => request.url.endsWith(name));
  const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
  await cache.put(key, new Response(bytes.slice(0, bytes.length - 1)));
}
"""


def test_a_cached_shard_of_the_wrong_length_is_fetched_again(page, static_server, tiny_site):
    """Cached shards were verified before they were stored, so a load checks their length
    only; one that does not match is downloaded (and verified) again."""
    root, urls = tiny_site
    shard = sorted((root / "models" / "tiny").glob("*.bin"))[0]
    requests = shard_requests(page)
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")
    page.evaluate(LOAD, urls.__dict__)
    page.evaluate(TRUNCATE_CACHED, shard.name)
    requests.clear()

    page.evaluate(LOAD, urls.__dict__)
    refetched = [url.rsplit("/", 1)[1] for url in requests]
    requests.clear()
    page.evaluate(LOAD, urls.__dict__)

    assert refetched == [shard.name]
    assert requests == [], "the shard fetched again was kept whole"


@pytest.mark.browser
def test_a_corrupted_shard_is_fetched_again_then_reported(page, static_server, tiny_site):
    root, urls = tiny_site
    shard = next((root / "models" / "tiny").glob("*.bin"))
    content = bytearray(shard.read_bytes())
    content[len(content) // 2] ^= 0xFF
    shard.write_bytes(bytes(content))
    requests = shard_requests(page)
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")

    error = page.evaluate(
        "async (urls) => window.rt = await window.createRuntime()"
        ".then((rt) => rt.load(urls)).then(() => null, (e) => e.message)",
        urls.__dict__,
    )

    assert error is not None and shard.name in error and "sha256" in error
    assert sum(url.endswith(shard.name) for url in requests) == 2, "fetched once more"
