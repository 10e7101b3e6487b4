"""Speed of the browser runtime running SmolLM2-135M in headless Chromium (WebGPU on
SwiftShader, or the GPU Chromium finds) against the numpy reference in the same run.

Prints, for a prompt of --prompt tokens: time to first token (the prefill and the pick),
prefill tokens/s, decode tokens/s over --steps greedy tokens, and the model's load time
from the network (empty Cache Storage) and from the cache (a second load in the same
browser profile). The numpy reference prefills the same prompt and decodes the same number
of steps. --profile adds the time of each kernel in one decode step, its dispatches
submitted one by one (each waits for the GPU, so the sum exceeds a whole step's time).

    .venv/bin/python bench/runtime_speed.py [--prompt 128] [--steps 8] [--profile]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "runtime")]

from pagemind.gpu.program import compile_decoder  # noqa: E402
from pagemind.models.gguf_source import GGUFModel  # noqa: E402
from pagemind.models.llama import KVCache, Llama  # noqa: E402
from pagemind.models.registry import load_model, resolve_model  # noqa: E402
from paths import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from runtime_site import add_model, build_runtime_site  # noqa: E402
from static_host import StaticHost  # noqa: E402

# Milliseconds: two loads (network, then cache) and one timed greedy generation.
MEASURE = """
async ({urls, prompt, steps}) => {
  const timed = async (work) => {
    const start = performance.now();
    const result = await work();
    return [performance.now() - start, result];
  };
  const [network, first] = await timed(async () => {
    const rt = await window.createRuntime();
    await rt.load(urls);
    return rt;
  });
  first.terminate();
  const rt = await window.createRuntime();
  const [cache, ready] = await timed(() => rt.load(urls));
  const tokenTimes = [];
  const start = performance.now();
  await rt.generate(prompt, {maxTokens: steps + 1}, () => tokenTimes.push(performance.now()));
  const decode = (tokenTimes.at(-1) - tokenTimes[0]) / (tokenTimes.length - 1);
  const {adapter, subgroups} = ready;
  return {network, cache, firstToken: tokenTimes[0] - start, decode, adapter, subgroups};
}
"""

# Milliseconds per kernel of one decode step, run in the page itself (no worker), with the
# runtime's own modules.
PROFILE = """
async ({urls, position}) => {
  const { openGpu } = await import("./_pagemind/runtime/gpu.js");
  const { loadModel } = await import("./_pagemind/runtime/loader.js");
  const { compilePipelines, Executor } = await import("./_pagemind/runtime/executor.js");
  const gpu = await openGpu();
  const { manifest, shards } = await loadModel(new URL(urls.manifestUrl, location).href);
  const program = await (await fetch(urls.programUrl)).json();
  const shaders = new URL("_pagemind/shaders/", location);
  const pipelines = await compilePipelines(gpu, program, shaders);
  const executor = Executor.create(gpu, program, manifest, shards, pipelines);
  const milliseconds = {};
  for (const step of executor.phases.decode.bySetting.off) {
    step.update(gpu.device.queue, {position});
    const start = performance.now();
    const encoder = gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(step.pipeline);
    pass.setBindGroup(0, step.bindGroup);
    pass.dispatchWorkgroups(...step.workgroups);
    pass.end();
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    const kernel = step.step.kernel;
    milliseconds[kernel] = (milliseconds[kernel] ?? 0) + performance.now() - start;
  }
  return milliseconds;
}
"""


def measure_browser(model: GGUFModel, prompt: list[int], steps: int, profile: bool) -> dict:
    program = compile_decoder(model, context_length=1024, max_prefill_tokens=len(prompt))
    with tempfile.TemporaryDirectory() as folder:
        root = build_runtime_site(Path(folder))
        urls = add_model(root, model, program, "smollm2")
        server = StaticHost(root)
        url = server.url
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url)
                page.wait_for_function("document.title === 'ready'")
                page.set_default_timeout(0)  # SwiftShader takes its time
                arguments = {"urls": urls.__dict__, "prompt": prompt, "steps": steps}
                result = page.evaluate(MEASURE, arguments)
                if profile:
                    # The first run compiles SwiftShader's code for each pipeline.
                    profile_arguments = {"urls": urls.__dict__, "position": len(prompt)}
                    page.evaluate(PROFILE, profile_arguments)
                    result["profile"] = page.evaluate(PROFILE, profile_arguments)
                browser.close()
        finally:
            server.close()
    return result


def measure_reference(model: GGUFModel, prompt: list[int], steps: int) -> dict:
    reference, cache = Llama(model), KVCache()
    start = time.perf_counter()
    token = int(reference.forward(prompt, cache)[-1].argmax())
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        token = int(reference.forward([token], cache)[-1].argmax())
    return {"firstToken": prefill * 1e3, "decode": (time.perf_counter() - start) / steps * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    model = load_model(resolve_model("smollm2-135m-instruct", "generator", Path.cwd()))
    prompt = [(7 * index) % model.config.vocab_size for index in range(args.prompt)]
    browser = measure_browser(model, prompt, args.steps, args.profile)
    reference = measure_reference(model, prompt, args.steps)

    print(f"SmolLM2-135M, prompt {args.prompt} tokens, {args.steps} decode steps")
    print(f"browser adapter: {browser['adapter']}; subgroups: {browser['subgroups']}")
    print(f"{'':28s}{'browser':>12s}{'numpy':>12s}{'browser/numpy':>16s}")
    for label, key in (("time to first token (ms)", "firstToken"), ("decode step (ms)", "decode")):
        ratio = browser[key] / reference[key]
        print(f"{label:28s}{browser[key]:12.1f}{reference[key]:12.1f}{ratio:16.3g}")
    for label, key in (("prefill tokens/s", "firstToken"), ("decode tokens/s", "decode")):
        count = args.prompt if key == "firstToken" else 1
        speeds = (count * 1e3 / browser[key], count * 1e3 / reference[key])
        print(f"{label:28s}{speeds[0]:12.2f}{speeds[1]:12.2f}{speeds[0] / speeds[1]:16.3g}")
    print(f"{'load from network (ms)':28s}{browser['network']:12.1f}")
    print(f"{'load from cache (ms)':28s}{browser['cache']:12.1f}")
    if args.profile:
        print("one decode step by kernel (ms, dispatches submitted one by one):")
        for kernel, milliseconds in sorted(browser["profile"].items(), key=lambda kv: -kv[1]):
            print(f"  {kernel:24s}{milliseconds:10.1f}")


if __name__ == "__main__":
    main()
