"""Our wgpu program against Hugging Face transformers on the same random SmolLM2-135M model.

Built for the lent GPU machine (transformers on CUDA, wgpu on the GPU's Vulkan driver); on a
machine without a GPU it runs transformers on the CPU against wgpu on lavapipe, so it is
known to work before a GPU is at hand. The model has SmolLM2-135M's shapes and formats with
random values (speed does not depend on them): one GGUF file read by both sides,
transformers dequantizing it to --peer-dtype. Each side prefills every --prompts length
(the first token's id read back) and decodes --steps greedy tokens after the first prompt,
one token id read back per step; ours also decodes them pipelined (each step embeds the id
its predecessor picked on the GPU: all submitted at once, then one read). The peer runs in
the same command, in a Python that has torch and transformers (--peer-python, default this
one).

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
from decode_speed import SMOLLM2_135M_SHAPES, TimedProgram
from pagemind.gpu.device import open_device
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
    longest = max(len(prompt) for prompt in prompts)
    timed = TimedProgram(KernelRunner(gpu), read_gguf(path), longest, steps)
    timed.prefill(prompts[0][:8])  # builds pipelines and bind groups
    timed.decode(1, 8)
    seconds = {}
    for prompt in prompts:
        start = time.perf_counter()
        timed.prefill(prompt)
        seconds[str(len(prompt))] = time.perf_counter() - start
    token = timed.prefill(prompts[0])
    start = time.perf_counter()
    for position in range(len(prompts[0]), len(prompts[0]) + steps):
        token = timed.decode(token, position)
    seconds["decode synchronous"] = (time.perf_counter() - start) / steps
    seconds["decode pipelined"] = 1 / timed.pipelined_decode_speed(prompts[0], steps)
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
        decode = key.startswith("decode")
        count = 1 if decode else int(key)
        label = key if decode else f"prefill {key} tokens"
        # The peer decodes one way (a token read back per step), against both of ours.
        speeds = count / seconds, count / peer["seconds"]["decode" if decode else key]
        print(f"{label:22s}{speeds[0]:12.1f}{speeds[1]:12.1f}{speeds[0] / speeds[1]:10.2f}x")


if __name__ == "__main__":
    main()
