"""Our program, run by wgpu-py and by the browser runtime under Node on Dawn, against Hugging
Face transformers on the same random SmolLM2-135M model.

Built for the lent GPU machine (transformers on CUDA, wgpu and Dawn on the GPU's Vulkan
driver); on a machine without a GPU it runs transformers on the CPU against wgpu on lavapipe
and Dawn on SwiftShader (use short --prompts there), so it is known to work before a GPU is
at hand. The model has SmolLM2-135M's shapes and formats with
random values (speed does not depend on them): one GGUF file read by both sides,
transformers dequantizing it to --peer-dtype. Each side prefills every --prompts length
(the first token's id read back) and decodes --steps greedy tokens after the first prompt,
one token id read back per step; ours also decodes them pipelined (each step embeds the id
its predecessor picked on the GPU: all submitted at once, then one read). The browser
runtime (bench/node_program_speed.py) always pipelines, as a reader's browser does. The
peer decodes with its own loop over the KV cache and with `generate()`; the faster of the
two is the one compared. The peer runs in the same command, in a Python that has torch and
transformers (--peer-python, default this one).

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
from node_program_speed import measure_node
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
    def generate(new_tokens):
        ids = torch.tensor([prompts[0]], device=device)
        sync(); start = time.perf_counter()
        model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       do_sample=False)
        sync(); return time.perf_counter() - start
    generate(2)  # warm-up
    seconds["decode generate()"] = (generate(steps + 1) - generate(1)) / steps
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
        adapter, wgpu_py = measure_ours(path, prompts, args.steps)
        node_adapter, node = measure_node(path, prompts, args.steps)
        peer = measure_peer(args, path, prompts)
    print(f"wgpu-py adapter: {adapter}")
    print(
        f"Node (Dawn) adapter: {node_adapter}; model load from a local server {node['load']:.2f} s"
    )
    print(f"transformers: {peer['device']}, {args.peer_dtype}")
    report(prompts, wgpu_py, node, peer["seconds"])


def report(prompts: list[list[int]], wgpu_py: dict, node: dict, peer: dict) -> None:
    """Tokens per second of each side, and ours over the peer's faster decode."""
    print(
        f"transformers decode: own loop {1 / peer['decode']:.1f} tok/s, "
        f"generate() {1 / peer['decode generate()']:.1f} tok/s"
    )
    peer_decode = min(peer["decode"], peer["decode generate()"])
    # (label, wgpu-py key, Node key, peer seconds, tokens)
    rows = [
        (f"prefill {len(p)} tokens", str(len(p)), str(len(p)), peer[str(len(p))], len(p))
        for p in prompts
    ]
    rows += [
        ("decode, synchronous", "decode synchronous", None, peer_decode, 1),
        ("decode, pipelined", "decode pipelined", "decode", peer_decode, 1),
    ]
    header = ("wgpu-py", "Node", "transformers", "wgpu-py/peer", "Node/peer")
    print(f"{'tok/s':22s}" + "".join(f"{name:>14s}" for name in header))
    for label, wgpu_key, node_key, peer_seconds, tokens in rows:
        ours = [tokens / wgpu_py[wgpu_key], tokens / node[node_key] if node_key else None]
        peer_speed = tokens / peer_seconds
        cells = [_cell(speed) for speed in (*ours, peer_speed)]
        cells += [_cell(speed and speed / peer_speed, "x") for speed in ours]
        print(f"{label:22s}" + "".join(cells))


def _cell(value: float | None, unit: str = "") -> str:
    if value is None:
        return f"{'-':>14s}"
    return f"{value:{14 - len(unit)}.{2 if unit else 1}f}{unit}"


if __name__ == "__main__":
    main()
