"""How the runtime loads models: side by side, each distinct pipeline compiled once per
device and shared by every model that runs its code, and a request made before its model is
in place waits for it instead of failing. In Chromium's page and under Node on Dawn."""

from __future__ import annotations

from pagemind.models.generate import generate
from pagemind.models.llama import Llama

PROMPT = list(range(9, 29))
NEW_TOKENS = 6

# The tiny model loaded twice at once under two names by one runtime core (session.js, which
# times a load by phase), then once alone by another; the phases each load reported and each
# model's greedy tokens.
TWO_NAMES_ONE_PROGRAM = """
async ({urls, prompt, maxTokens}) => {
  const core = async () => typeof document === "undefined"
    ? window.createRuntime()
    : new (await import("./_pagemind/runtime/session.js")).Session();
  const loadAll = async (names) => {
    const session = await core();
    const phases = [];
    const onPhase = (event) => phases.push(event);
    const load = (model) => session.load({...urls, model}, undefined, undefined, onPhase);
    await Promise.all(names.map(load));
    const tokens = [];
    for (const model of names) {
      tokens.push((await session.generate(prompt, {maxTokens}, undefined, {model})).tokens);
    }
    await session.close();
    return {phases, tokens};
  };
  return {both: await loadAll(["a", "b"]), alone: await loadAll(["a"])};
}
"""

# A generation asked for before the load that it needs has finished.
GENERATE_WHILE_LOADING = """
async ({urls, prompt, maxTokens}) => {
  const rt = await window.createRuntime();
  const loading = rt.load(urls);
  const early = rt.generate(prompt, {maxTokens});
  await loading;
  return (await early).tokens;
}
"""


def created_pipelines(phases: list[dict]) -> int:
    return sum(event["created"] for event in phases if event["phase"] == "shader modules")


def test_models_of_the_same_code_share_its_pipelines(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)
    expected = generate(Llama(tiny_model), PROMPT, NEW_TOKENS)

    result = run(
        TWO_NAMES_ONE_PROGRAM, {"urls": urls.__dict__, "prompt": PROMPT, "maxTokens": NEW_TOKENS}
    )

    alone = created_pipelines(result["alone"]["phases"])
    assert alone > 0
    assert created_pipelines(result["both"]["phases"]) == alone, "the second model made none"
    assert result["both"]["tokens"] == [expected, expected]
    assert result["alone"]["tokens"] == [expected]


def test_the_models_load_side_by_side(runtime_host, tiny_site):
    root, urls = tiny_site
    run = runtime_host(root)

    result = run(TWO_NAMES_ONE_PROGRAM, {"urls": urls.__dict__, "prompt": PROMPT, "maxTokens": 1})

    phases = {(e["model"], e["phase"]): e for e in result["both"]["phases"]}
    assert phases["b", "program"]["start"] < phases["a", "bind groups"]["end"], "side by side"


def test_a_request_before_its_model_is_ready_waits_for_it(runtime_host, tiny_site, tiny_model):
    root, urls = tiny_site
    run = runtime_host(root)

    tokens = run(
        GENERATE_WHILE_LOADING,
        {"urls": urls.__dict__, "prompt": PROMPT, "maxTokens": NEW_TOKENS},
    )

    assert tokens == generate(Llama(tiny_model), PROMPT, NEW_TOKENS)
