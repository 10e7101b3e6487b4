"""Our wgpu program against Hugging Face transformers on the same random SmolLM2-135M model.

Built for the lent GPU machine (transformers on CUDA, wgpu on the GPU's Vulkan driver); on a
machine without a GPU it runs transformers on the CPU against wgpu on lavapipe, so it is
known to work before a GPU is at hand. The model has SmolLM2-135M's shapes and formats with
random values (speed does not depend on them): one GGUF file read by both sides,
transformers dequantizing it to --peer-dtype. Each side prefills every --prompts length
(the first token's id read back) and decodes --steps greedy tokens after the first prompt,
one token id read back per step. The peer runs in the same command, in a Python that has
torch and transformers (--peer-python, default this one).

    python bench/gpu_peer_speed.py [--prompts 128,1024] [--steps 64] [--peer-python PY]
                                   [--peer-device cuda|cpu] [--peer-dtype float16|float32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from decode_speed import SMOLLM2_135M_SHAPES
from pagemind.gpu.device import open_device
from pagemind.gpu.program import ProgramRunner, compile_decoder
from pagemind.gpu.runner import KernelRunner
from pagemind.models.gguf_source import read_gguf
from pagemind.models.tiny_model import tiny_llama_gguf

# Seconds per prefill length and per decode step, as JSON on stdout.
PEER = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
import torch, transformers
path, prompts_json, steps, device, dtype = sys.argv[1:]
prompts, steps = json.loads(prompts_json), int(steps)
model = transformers.AutoModelForCausalLM.from_pretrained(
    os.path.dirname(path), gguf_file=os.path.basename(path), dtype=getattr(torch, dtype)
).to(device).eval()
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

def prefill(prompt):
    output = model(torch.tensor([prompt], device=device), use_cache=True)
    return output, int(output.logits[0, -1].argmax())

with torch.no_grad():
    prefill(prompts[0][:8])  # warm-up
    seconds = {}
    for prompt in prompts:
        sync(); start = time.perf_counter()
        output, token = prefill(prompt)
        seconds[str(len(prompt))] = time.perf_counter() - start
    output, token = prefill(prompts[0])
    sync(); start = time.perf_counter()
    for _ in range(steps):
        ids = torch.tensor([[token]], device=device)
        output = model(ids, past_key_values=output.past_key_values, use_cache=True)
        token = int(output.logits[0, -1].argmax())
    seconds["decode"] = (time.perf_counter() - start) / steps
print(json.dumps({"seconds": seconds, "device": str(next(model.parameters()).device)}))
"""


def measure_ours(path: Path, prompts: list[list[int]], steps: int) -> tuple[str, dict]:
    gpu = open_device()
    runner = KernelRunner(gpu)
    model = read_gguf(path)
    longest = max(len(prompt) for prompt in prompts)
    program = compile_decoder(model, longest + steps + 1, max_prefill_tokens=longest)
    executor = ProgramRunner(runner, program, model.tensors)

    def run(phase: str, tokens: list[int], position: int) -> int:
        executor.write("tokens", np.array(tokens, np.uint32))
        executor.run(phase, {"n_tokens": len(tokens), "position": position})
        return int(executor.read("top_indices", np.uint32)[0])

    run("prefill", prompts[0][:8], 0)  # builds pipelines and bind groups
    run("decode", [1], 8)
    seconds = {}
    for prompt in prompts:
        start = time.perf_counter()
        token = run("prefill", prompt, 0)
        seconds[str(len(prompt))] = time.perf_counter() - start
    token = run("prefill", prompts[0], 0)
    start = time.perf_counter()
    for position in range(len(prompts[0]), len(prompts[0]) + steps):
        token = run("decode", [token], position)
    seconds["decode"] = (time.perf_counter() - start) / steps
    return gpu.describe(), seconds


def measure_peer(args: argparse.Namespace, path: Path, prompts: list[list[int]]) -> dict:
    command = [args.peer_python, "-c", PEER, str(path), json.dumps(prompts), str(args.steps)]
    command += [args.peer_device, args.peer_dtype]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", default="128,1024", help="prefill lengths, comma-separated")
    parser.add_argument("--steps", type=int, default=64, help="decode steps")
    parser.add_argument("--peer-python", default=sys.executable)
    parser.add_argument("--peer-device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--peer-dtype", default="float16", choices=["float16", "float32"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vocab = SMOLLM2_135M_SHAPES["vocab_size"]
    prompts = [rng.integers(0, vocab, int(n)).tolist() for n in args.prompts.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        path = tiny_llama_gguf(Path(folder) / "smollm2-shapes.gguf", **SMOLLM2_135M_SHAPES)
        adapter, ours = measure_ours(path, prompts, args.steps)
        peer = measure_peer(args, path, prompts)
    print(f"wgpu adapter: {adapter}")
    print(f"transformers: {peer['device']}, {args.peer_dtype}")
    print(f"{'':22s}{'ours tok/s':>12s}{'peer tok/s':>12s}{'ours/peer':>11s}")
    for key, seconds in ours.items():
        count = 1 if key == "decode" else int(key)
        label = "decode" if key == "decode" else f"prefill {key} tokens"
        speeds = count / seconds, count / peer["seconds"][key]
        print(f"{label:22s}{speeds[0]:12.1f}{speeds[1]:12.1f}{speeds[0] / speeds[1]:10.2f}x")


if __name__ == "__main__":
    main()
