"""Where a decode step's time goes, in the browser runtime under Node on Dawn (the GPU Dawn
finds; SwiftShader without one), on a random model with SmolLM2-135M's shapes and formats.

Prints, per decode step: the CPU time of `executor.run` (uniforms, recording, submit), of
recording alone, the time of steps submitted back to back (the GPU's pace when the CPU keeps
up), and for each kernel the time saved when its dispatches are left out (an ablation: the
outputs are wrong then, the timing is what counts). On a real GPU every dispatch costs a
launch and a barrier whatever its work, which the ablation shows.

    .venv/bin/python bench/decode_step_costs.py [--steps 200] [--position 200]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from decode_speed import SMOLLM2_135M_SHAPES
from node_program_speed import run_in_node
from pagemind.gpu.program import compile_decoder
from pagemind.models.gguf_source import read_gguf
from pagemind.models.tiny_model import tiny_llama_gguf

# Milliseconds per step, measured in Node on the loaded program's decode phase.
MEASURE = """
async ({urls, prompt, steps, position}) => {
  const rt = await window.createRuntime();
  const info = await rt.load(urls);
  await rt.generate(prompt, {maxTokens: 2});
  const executor = rt.models.generator.executor;
  const {device} = executor.gpu;
  const {steps: decode, uniforms} = executor.phases.decode;
  const variables = {position};
  const perStep = async (submitOne) => {
    submitOne();
    await executor.read("top_indices", 4);
    const start = performance.now();
    for (let i = 0; i < steps; i++) submitOne();
    const cpu = (performance.now() - start) / steps;
    await executor.read("top_indices", 4);
    return [cpu, (performance.now() - start) / steps];
  };
  const [run, paced] = await perStep(() => executor.run("decode", variables));
  for (const step of decode) step.update(variables);
  uniforms.write(device.queue);
  const [recording] = await perStep(() => executor.record(decode));
  const submit = (list) => () => device.queue.submit([executor.record(list)]);
  const [, all] = await perStep(submit(decode));
  const saved = {};
  for (const kernel of new Set(decode.map((step) => step.step.kernel))) {
    const rest = decode.filter((step) => step.step.kernel !== kernel);
    const [, without] = await perStep(submit(rest));
    saved[kernel] = {count: decode.length - rest.length, ms: all - without};
  }
  await rt.close();
  return {adapter: info.adapter, dispatches: decode.length, run, recording, paced, all, saved};
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per timing")
    parser.add_argument("--position", type=int, default=200, help="cached positions")
    args = parser.parse_args()
    prompt = np.random.default_rng(0).integers(0, 49152, 16).tolist()
    with tempfile.TemporaryDirectory() as folder:
        model = read_gguf(tiny_llama_gguf(Path(folder) / "m.gguf", **SMOLLM2_135M_SHAPES))
        program = compile_decoder(model, args.position + 64, max_prefill_tokens=16)
        result = run_in_node(model, program, MEASURE, {**vars(args), "prompt": prompt})
    report(result)


def report(result: dict) -> None:
    print(f"adapter: {result['adapter']}; decode step: {result['dispatches']} dispatches")
    print(f"executor.run, CPU:              {result['run']:8.3f} ms per step")
    print(f"recording alone, CPU:           {result['recording']:8.3f} ms per step")
    print(f"executor.run back to back:      {result['paced']:8.3f} ms per step")
    print(f"recorded steps back to back:    {result['all']:8.3f} ms per step")
    print("left out            dispatches   saved ms   us each")
    for kernel, saved in sorted(result["saved"].items(), key=lambda item: -item[1]["ms"]):
        each = saved["ms"] / saved["count"] * 1e3
        print(f"{kernel:26s}{saved['count']:5d}{saved['ms']:11.3f}{each:10.1f}")


if __name__ == "__main__":
    main()
