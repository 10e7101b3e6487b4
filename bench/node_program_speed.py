"""The browser runtime (runtime/session.js) under Node on Dawn, timed on a GGUF model: what a
reader's browser runs, on whatever GPU Dawn finds (Vulkan; SwiftShader without a GPU).

Used by bench/gpu_peer_speed.py beside wgpu-py and transformers. The model is packaged and
served over HTTP from a local server, as a site serves it; each prompt is prefilled into a
fresh KV cache and its first token read back (time to first token); decoding streams
greedy tokens and times the gaps between them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "runtime")]

from node_runtime import NodeRuntime  # noqa: E402
from pagemind.gpu.program import Program, compile_decoder  # noqa: E402
from pagemind.models.gguf_source import GGUFModel, read_gguf  # noqa: E402
from runtime_site import add_model, build_runtime_site  # noqa: E402
from static_host import StaticHost  # noqa: E402

# Seconds, measured in Node; prompts differ from their first token, so none reuses the KV
# cache of the one before.
MEASURE = """
async ({urls, prompts, steps}) => {
  const seconds = (start) => (performance.now() - start) / 1000;
  const rt = await window.createRuntime();
  let start = performance.now();
  const info = await rt.load(urls);
  const result = {adapter: info.adapter, load: seconds(start)};
  await rt.generate(prompts[0].slice(0, 8), {maxTokens: 2});  // first submits
  for (const prompt of prompts) {
    start = performance.now();
    await rt.generate(prompt, {maxTokens: 1});
    result[String(prompt.length)] = seconds(start);
  }
  const times = [];
  await rt.generate(prompts[0], {maxTokens: steps + 1}, () => times.push(performance.now()));
  result.decode = (times.at(-1) - times[0]) / 1000 / (times.length - 1);
  await rt.close();
  return result;
}
"""


def run_in_node(model: GGUFModel, program: Program, check: str, data: dict) -> Any:
    """`check` (a browser-harness check, see tests/runtime/runtime_site.py) run under Node
    with `model` and `program` served from a local site; `data` gains the model's `urls`."""
    with tempfile.TemporaryDirectory() as folder:
        root = build_runtime_site(Path(folder))
        urls = add_model(root, model, program, "model")
        server = StaticHost(root)
        node = NodeRuntime(server.url)
        try:
            return node.run(check, {**data, "urls": urls.__dict__})
        finally:
            node.close()
            server.close()


def measure_node(path: Path, prompts: list[list[int]], steps: int) -> tuple[str, dict]:
    """(adapter, seconds per prefill length, per decode step and for the load)."""
    model = read_gguf(path)
    longest = max(len(prompt) for prompt in prompts)
    program = compile_decoder(model, longest + steps + 1, max_prefill_tokens=longest)
    seconds = run_in_node(model, program, MEASURE, {"prompts": prompts, "steps": steps})
    return seconds.pop("adapter"), seconds
