"""LoRA adapters in the browser runtime: two token-push adapters on a tiny model, switched on
one loaded model (hot swap) in Chromium's Web Worker; each makes its own token the greedy
answer, none gives the base model's, and the base shards are fetched once. The executor runs
the base program's dispatches while no adapter is on, and decode adds none with one on."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES
from pagemind.gpu.program import compile_decoder
from pagemind.models.adapters import adapter_ranks, adapter_tensors, read_adapter
from pagemind.models.generate import generate
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import Llama
from pagemind.models.package import AdapterPackage, AdapterSettings, write_package
from pagemind.models.tiny_adapter import tiny_push_model, token_push_parts, write_lora_gguf
from runtime_site import LOAD, add_model, build_runtime_site

PUSHED = {"up": 100, "down": 200}  # adapter name -> the token it makes the greedy choice
PROMPT = list(range(30, 51))  # more than the 16 prefill rows: two chunks
NEW_TOKENS = 6

# The number of steps the executor runs per phase with an adapter on and with none.
STEPS_RUN = """
async ({programUrl}) => {
  const { stepRuns } = await import("./_pagemind/runtime/executor.js");
  const program = await (await fetch(programUrl)).json();
  const counts = {};
  for (const [phase, { steps }] of Object.entries(program.phases)) {
    counts[phase] = [false, true].map((on) => steps.filter((s) => stepRuns(s, on)).length);
  }
  return counts;
}
"""

# Greedy tokens with the adapter at `adapter` (a manifest URL, or null for none).
GENERATE_WITH = """
async ({adapter, prompt, maxTokens}) => {
  await window.rt.useAdapter(adapter);
  return (await window.rt.generate(prompt, {maxTokens})).tokens;
}
"""


@pytest.fixture
def adapter_site(tmp_path):
    model = read_gguf(tiny_push_model(tmp_path / "push.gguf"))
    embedding = model.tensors["token_embd.weight"].dequantize()
    adapters = {}
    for name, token in PUSHED.items():
        parts = token_push_parts(model.config, embedding[token])
        path = write_lora_gguf(tmp_path / f"{name}.gguf", parts, "llama", 1.0)
        adapters[name] = read_adapter(path, model.config, "llama", 1.0)
    ranks = adapter_ranks(list(adapters.values()))
    program = compile_decoder(
        model,
        context_length=64,
        max_prefill_tokens=16,
        top_k=SAMPLING_CANDIDATES,
        adapter_ranks=ranks,
    )
    root = build_runtime_site(tmp_path / "site")
    urls = add_model(root, model, program, "tiny")
    manifests = {}
    for name, adapter in adapters.items():
        package = AdapterPackage(
            AdapterSettings(name, 1.0), adapter_tensors(adapter, ranks, model.config)
        )
        info = write_package(package, root / "models" / "adapters" / name, name=name)
        manifests[name] = f"models/adapters/{name}/{info.manifest_path.name}"
    return root, urls, manifests, model, program


@pytest.mark.browser
def test_switching_adapters_changes_answers_and_fetches_the_base_once(
    page, static_server, adapter_site
):
    root, urls, manifests, model, _ = adapter_site
    requested: list[str] = []
    page.context.on("request", lambda r: r.url.endswith(".bin") and requested.append(r.url))
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")
    page.evaluate(LOAD, urls.__dict__)

    def answer(adapter: str | None) -> list[int]:
        url = manifests[adapter] if adapter else None
        data = {"adapter": url, "prompt": PROMPT, "maxTokens": NEW_TOKENS}
        return page.evaluate(GENERATE_WITH, data)

    base = generate(Llama(model), PROMPT, NEW_TOKENS)
    answers = [answer(name) for name in ("up", None, "down", "up", None)]

    assert answers[0] == [PUSHED["up"]] * NEW_TOKENS
    assert answers[1] == base and PUSHED["up"] not in base
    assert answers[2] == [PUSHED["down"]] * NEW_TOKENS
    assert answers[3] == answers[0] and answers[4] == base
    shards = sorted(url.rsplit("/", 2)[-2] for url in requested)
    assert shards == ["down", "tiny", "up"], "each package's shard fetched once"
    assert page.console_errors == []
    assert np.all(np.asarray(answers[0]) != np.asarray(answers[2]))


@pytest.mark.browser
def test_the_executor_runs_the_base_dispatches_while_no_adapter_is_on(
    page, static_server, adapter_site
):
    root, urls, _, model, program = adapter_site
    page.goto(static_server(root))
    page.wait_for_function("document.title === 'ready'")
    counts = page.evaluate(STEPS_RUN, urls.__dict__)

    base = compile_decoder(model, 64, 16, top_k=SAMPLING_CANDIDATES)
    adapted = sum(step.adapter is True for step in program.phases["decode"])
    assert counts["decode"] == [len(base.phases["decode"])] * 2
    assert counts["prefill"] == [
        len(base.phases["prefill"]),
        len(base.phases["prefill"]) + 2 * adapted,
    ]
    assert counts["sample"] == [len(base.phases["sample"])] * 2
