"""Speed of the numpy decoder reference (prefill and decode) against transformers on torch.

Both read the default GGUF (SmolLM2-135M-Instruct, Q4_1) and run float32 on the CPU: a
batched prefill of --prompt tokens, then --decode single-token steps with the KV cache.
The peer runs in the same run in the reference environment (the `reference` extra);
without it only our figures are printed.

    .venv/bin/python bench/reference_speed.py [--prompt 128] [--decode 32] \
        [--peer-python .venv-ref/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.registry import resolve_model

REPO = Path(__file__).resolve().parents[1]

PEER = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
import torch, transformers
path, prompt_file, decode, out_file = sys.argv[1:]
model = transformers.AutoModelForCausalLM.from_pretrained(
    os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float32
).eval()
prompt = json.load(open(prompt_file))
with torch.no_grad():
    model(torch.tensor([prompt[:8]]))  # warm-up
    start = time.perf_counter()
    output = model(torch.tensor([prompt]), use_cache=True)
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(int(decode)):
        token = torch.tensor([[prompt[step]]])
        output = model(token, past_key_values=output.past_key_values, use_cache=True)
    decoded = time.perf_counter() - start
json.dump({"prefill": prefill, "decode": decoded}, open(out_file, "w"))
"""


def measure_ours(model: Llama, prompt: list[int], decode: int) -> dict[str, float]:
    model.forward(prompt[:8], KVCache())  # warm-up
    cache = KVCache()
    start = time.perf_counter()
    model.forward(prompt, cache)
    prefill = time.perf_counter() - start
    start = time.perf_counter()
    for token in prompt[:decode]:
        model.forward([token], cache)
    return {"prefill": prefill, "decode": time.perf_counter() - start}


def measure_peer(python: str, path: Path, prompt: list[int], decode: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        prompt_file, out_file = Path(folder) / "prompt.json", Path(folder) / "out.json"
        prompt_file.write_text(json.dumps(prompt))
        command = [python, "-c", PEER, str(path), str(prompt_file), str(decode), str(out_file)]
        subprocess.run(command, check=True, capture_output=True)
        return json.loads(out_file.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=128, help="prefill length in tokens")
    parser.add_argument("--decode", type=int, default=32, help="decode steps")
    parser.add_argument("--peer-python", help="a Python with torch and transformers")
    args = parser.parse_args()

    path = resolve_model("smollm2-135m-instruct", "generator", REPO)
    start = time.perf_counter()
    model = Llama(read_gguf(path))
    print(f"model: {path.name}, {path.stat().st_size / 1e6:.1f} MB on disk")
    print(f"load + dequantize: {time.perf_counter() - start:.1f} s")
    prompt = [(token * 7919) % 49000 + 100 for token in range(args.prompt)]
    ours = measure_ours(model, prompt, args.decode)
    report("numpy reference", ours, args)
    if args.peer_python:
        peer = measure_peer(args.peer_python, path, prompt, args.decode)
        report("transformers (torch, CPU)", peer, args)
        for phase in ("prefill", "decode"):
            ratio = ours[phase] / peer[phase]
            print(f"{phase}: the numpy reference takes {ratio:.2f}x the peer's time")
    return 0


def report(name: str, seconds: dict[str, float], args: argparse.Namespace) -> None:
    print(
        f"{name}: prefill {args.prompt / seconds['prefill']:.0f} tokens/s, "
        f"decode {args.decode / seconds['decode']:.1f} tokens/s"
    )


if __name__ == "__main__":
    sys.exit(main())
