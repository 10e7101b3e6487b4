"""A lost GPU device (a driver reset; here a destroy() through the runtime's debug hook) is
re-created and every model reloaded: the page hears device-lost then device-restored, and
the next generation gives the same tokens; an answer cut by the loss, or a reload that
fails, says why. In Chromium the reload reads Cache Storage and downloads nothing."""

from __future__ import annotations

import pytest
from runtime_site import GENERATE, LOAD, RunCheck

PROMPT = list(range(7, 27))
SETTINGS = {"maxTokens": 6}

# Loses the device, then generates at once: the request waits for the reload. Returns the
# events the runtime sent meanwhile and the generation.
LOSE_THEN_GENERATE = """
async ({prompt, settings}) => {
  const rt = window.rt;
  const events = [];
  for (const type of ["device-lost", "device-restored", "device-failed"]) {
    rt.addEventListener(type, ({detail}) => events.push({type, ...detail}));
  }
  const restored = new Promise((resolve) => rt.addEventListener("device-restored", resolve));
  await rt.debugLoseDevice();
  const result = await rt.generate(prompt, settings);
  await restored;
  return {events, result};
}
"""


# Loses the device while an answer streams: that answer fails and says why, the next works.
LOSE_MID_ANSWER = """
async ({prompt, settings}) => {
  const rt = window.rt;
  const restored = new Promise((resolve) => rt.addEventListener("device-restored", resolve));
  let count = 0;
  const loseAtSecond = () => ++count === 2 && rt.debugLoseDevice();
  const failure = await rt.generate(prompt, {maxTokens: 40}, loseAtSecond).then(
    () => null, (error) => error.message);
  await restored;
  return {failure, count, result: await rt.generate(prompt, settings)};
}
"""


def loaded_and_answered(runtime_host, tiny_site) -> tuple[RunCheck, dict]:
    """The tiny model loaded in a fresh runtime; its greedy answer to PROMPT."""
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    return run, run(GENERATE, {"prompt": PROMPT, "settings": SETTINGS})


def test_a_lost_device_is_recreated_and_the_models_reloaded(runtime_host, tiny_site):
    run, before = loaded_and_answered(runtime_host, tiny_site)
    after = run(LOSE_THEN_GENERATE, {"prompt": PROMPT, "settings": SETTINGS})

    assert [event["type"] for event in after["events"]] == ["device-lost", "device-restored"]
    assert "lost" in after["events"][0]["message"]
    assert after["events"][1]["models"] == ["generator"]
    assert after["result"]["tokens"] == before["tokens"]
    assert after["result"]["reused"] == 0, "the new device starts with an empty KV cache"


def test_an_answer_cut_by_a_device_loss_says_why(runtime_host, tiny_site):
    run, before = loaded_and_answered(runtime_host, tiny_site)
    after = run(LOSE_MID_ANSWER, {"prompt": PROMPT, "settings": SETTINGS})

    assert after["failure"] is not None and after["count"] < 40
    assert "GPU device was lost during this request" in after["failure"]
    assert after["result"]["tokens"] == before["tokens"]


@pytest.mark.browser
def test_the_reload_after_a_device_loss_reads_the_cache(page, static_server, tiny_site):
    root, urls = tiny_site
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")
    shards: list[str] = []
    page.context.on("request", lambda r: shards.append(r.url) if r.url.endswith(".bin") else None)
    lost: list[str] = []
    page.on("console", lambda message: lost.append(message.text))

    page.evaluate(LOAD, urls.__dict__)
    downloaded = len(shards)
    page.evaluate("window.rt.onDeviceLost = (message) => console.log(`lost: ${message}`)")
    before, after = page.evaluate(
        "async (data) => [await window.rt.generate(data.prompt, data.settings),"
        f" await ({LOSE_THEN_GENERATE})(data)]",
        {"prompt": PROMPT, "settings": SETTINGS},
    )

    assert downloaded > 0
    assert len(shards) == downloaded, "the reload read every shard from Cache Storage"
    assert after["result"]["tokens"] == before["tokens"]
    assert [text for text in lost if text.startswith("lost: ")], "onDeviceLost still hears it"
    assert page.console_errors == []


# Loses the device when the model can no longer be fetched: the reload fails and says so.
LOSE_FOR_GOOD = """
async () => {
  const rt = window.rt;
  const failed = new Promise((resolve) => {
    rt.addEventListener("device-failed", ({detail}) => resolve(detail.message));
  });
  await rt.debugLoseDevice();
  const message = await failed;
  const next = await rt.generate([1, 2, 3]).then(() => null, (error) => error.message);
  return {message, next};
}
"""


def test_a_failed_reload_is_reported(runtime_host, tiny_site):
    root, urls = tiny_site
    run = runtime_host(root)
    run(LOAD, urls.__dict__)
    (root / urls.manifestUrl).unlink()  # a new build replaced the site meanwhile

    result = run(LOSE_FOR_GOOD)

    assert "could not be reloaded" in result["message"] and "404" in result["message"]
    assert result["next"] == "model generator is not loaded"
