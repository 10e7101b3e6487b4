"""The runtime under Node on Dawn against the same runtime in headless Chromium (its Web
Worker), in the same run, on SmolLM2-135M (WebGPU on SwiftShader here, or the GPU each finds),
and what reusing the KV cache across a conversation's turns saves.

For each host: model load time (Node has no Cache Storage: both download from a local
server), time to first token for a --prompt-token prompt, decode ms per token, and the time
to first token of a follow-up turn (the first prompt, its answer and --follow-up new tokens)
with the KV cache kept from the first turn against a fresh runtime that prefills it all.

    .venv/bin/python bench/node_runtime_speed.py [--prompt 64] [--follow-up 16] [--steps 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "runtime")]

from node_runtime import NodeRuntime  # noqa: E402
from pagemind.gpu.program import compile_decoder  # noqa: E402
from pagemind.models.registry import load_model, resolve_model  # noqa: E402
from paths import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from runtime_site import add_model, build_runtime_site  # noqa: E402
from static_host import StaticHost  # noqa: E402

# Milliseconds, measured in the host itself; the same text runs in Chromium and in Node.
MEASURE = """
async ({urls, prompt, followUp, steps}) => {
  const timed = async (work) => {
    const start = performance.now();
    const result = await work();
    return [performance.now() - start, result];
  };
  const rt = await window.createRuntime();
  const [load, info] = await timed(() => rt.load(urls));
  const tokenTimes = [];
  const start = performance.now();
  const first = await rt.generate(prompt, {maxTokens: steps + 1}, () => {
    tokenTimes.push(performance.now());
  });
  const conversation = [...prompt, ...first.tokens, ...followUp];
  const [reusedTime, reused] = await timed(() => rt.generate(conversation, {maxTokens: 1}));
  const fresh = await window.createRuntime();
  await fresh.load(urls);
  const [freshTime, again] = await timed(() => fresh.generate(conversation, {maxTokens: 1}));
  return {
    adapter: info.adapter,
    load,
    firstToken: tokenTimes[0] - start,
    decode: (tokenTimes.at(-1) - tokenTimes[0]) / (tokenTimes.length - 1),
    followUpReused: reusedTime,
    followUpFresh: freshTime,
    reusedTokens: reused.reused,
    conversationTokens: conversation.length,
    sameToken: reused.tokens[0] === again.tokens[0],
  };
}
"""


def measure_chromium(url: str, script: str, arguments: dict) -> dict:
    """`script`'s result in headless Chromium on the harness page at `url`."""
    from playwright.sync_api import sync_playwright  # not installed where only Node runs

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(0)  # SwiftShader takes its time
        page.goto(url)
        page.wait_for_function("document.title === 'ready'")
        result = page.evaluate(script, arguments)
        browser.close()
    return result


def measure_node(url: str, script: str, arguments: dict) -> dict:
    """`script`'s result under Node on Dawn, for the runtime site at `url`."""
    node = NodeRuntime(url)
    try:
        return node.run(script, arguments)
    finally:
        node.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--follow-up", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    model = load_model(resolve_model("smollm2-135m-instruct", "generator", Path.cwd()))
    ids = [(7 * index) % model.config.vocab_size for index in range(args.prompt + args.follow_up)]
    conversation = args.prompt + args.steps + 1 + args.follow_up
    program = compile_decoder(model, context_length=256, max_prefill_tokens=conversation)
    with tempfile.TemporaryDirectory() as folder:
        root = build_runtime_site(Path(folder))
        urls = add_model(root, model, program, "smollm2")
        server = StaticHost(root)
        url = server.url
        arguments = {
            "urls": urls.__dict__,
            "prompt": ids[: args.prompt],
            "followUp": ids[args.prompt :],
            "steps": args.steps,
        }
        try:
            results = {"chromium": measure_chromium(url, MEASURE, arguments)}
            results["node"] = measure_node(url, MEASURE, arguments)
        finally:
            server.close()
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    chromium, node = results["chromium"], results["node"]
    print(f"SmolLM2-135M, prompt {args.prompt} tokens, {args.steps} decode steps, follow-up")
    print(f"turn of {chromium['conversationTokens']} tokens")
    for host, result in results.items():
        print(f"{host} adapter: {result['adapter']}")
    print(f"{'ms':34s}{'chromium':>10s}{'node':>10s}{'node/chromium':>15s}")
    rows = (
        ("model load", "load"),
        ("time to first token", "firstToken"),
        ("decode per token", "decode"),
        ("follow-up first token, KV reused", "followUpReused"),
        ("follow-up first token, fresh", "followUpFresh"),
    )
    for label, key in rows:
        ratio = node[key] / chromium[key]
        print(f"{label:34s}{chromium[key]:10.0f}{node[key]:10.0f}{ratio:15.3g}")
    for host, result in results.items():
        saving = result["followUpFresh"] / result["followUpReused"]
        print(
            f"{host}: KV reuse skipped {result['reusedTokens']} of "
            f"{result['conversationTokens']} tokens; follow-up first token {saving:.2f}x "
            f"faster than fresh; same token: {result['sameToken']}"
        )


if __name__ == "__main__":
    main()
