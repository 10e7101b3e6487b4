"""Prefill and decode speed of the compiled program on the wgpu adapter against numpy.

A random model with SmolLM2-135M's shapes and formats (30 blocks, hidden 576, 9 heads over
3 KV heads, FFN 1536, vocabulary 49152, Q4_1 matrices, tied Q8_0 embedding): speed does not
depend on the values. The GPU prefills a prompt in one submit, then decodes greedily: each
step writes the token id, submits the decode phase once and reads back the 4-byte id it
picked. The numpy reference (models/llama.py) runs the same prompt and steps in the same run.
Where the adapter has timestamp queries, the GPU time of one decode step is also printed by
kernel.

    .venv/bin/python bench/decode_speed.py [--prompt 128] [--steps 64] [--reference-steps 8]
                                           [--no-subgroups]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pagemind.gpu.device import open_device
from pagemind.gpu.program import ProgramRunner, compile_decoder
from pagemind.gpu.runner import KernelRunner
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_model import tiny_llama_gguf

SMOLLM2_135M_SHAPES = {
    "hidden_size": 576,
    "num_layers": 30,
    "num_heads": 9,
    "num_kv_heads": 3,
    "intermediate_size": 1536,
    "vocab_size": 49152,
    "matrix_format": "Q4_1",
}


def tokens_per_second(
    prefill: Callable[[list[int]], int],
    decode: Callable[[int, int], int],
    prompt: list[int],
    steps: int,
) -> tuple[float, float]:
    """Prefill and greedy-decode speeds; decode(token, position) returns the next token."""
    start = time.perf_counter()
    token = prefill(prompt)
    prefill_speed = len(prompt) / (time.perf_counter() - start)
    start = time.perf_counter()
    for position in range(len(prompt), len(prompt) + steps):
        token = decode(token, position)
    return prefill_speed, steps / (time.perf_counter() - start)


def gpu_speeds(
    runner: KernelRunner, model: GGUFModel, prompt: list[int], steps: int
) -> tuple[float, float]:
    program = compile_decoder(model, len(prompt) + steps + 1, max_prefill_tokens=len(prompt))
    executor = ProgramRunner(runner, program, model.tensors)
    print(f"decode step: {len(program.phases['decode'])} dispatches")

    def run(phase: str, tokens: list[int], position: int) -> int:
        executor.write("tokens", np.array(tokens, np.uint32))
        executor.run(phase, {"n_tokens": len(tokens), "position": position})
        return int(executor.read("top_indices", np.uint32)[0])

    run("prefill", prompt, 0)  # builds pipelines and bind groups
    run("decode", [1], len(prompt))
    if "timestamp-query" in runner.gpu.features:
        print_profile(executor.profile("decode", {"position": len(prompt)}))
    return tokens_per_second(
        lambda tokens: run("prefill", tokens, 0),
        lambda token, position: run("decode", [token], position),
        prompt,
        steps,
    )


def print_profile(seconds: dict[str, float]) -> None:
    """GPU time of one decode step by kernel, each dispatch timed in its own pass."""
    total = sum(seconds.values())
    print(f"decode step GPU time {total * 1e3:.2f} ms (dispatches timed one by one):")
    for kernel, duration in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {kernel:20s} {duration * 1e6:9.1f} us  {duration / total:6.1%}")


def reference_speeds(model: GGUFModel, prompt: list[int], steps: int) -> tuple[float, float]:
    reference, cache = Llama(model), KVCache()

    def forward(tokens: list[int]) -> int:
        return int(np.argmax(reference.forward(tokens, cache)[-1]))

    return tokens_per_second(forward, lambda token, _: forward([token]), prompt, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--reference-steps", type=int, default=8)
    parser.add_argument("--no-subgroups", action="store_true")
    args = parser.parse_args()
    gpu = open_device()
    runner = KernelRunner(gpu, use_subgroups=False if args.no_subgroups else None)
    print(f"adapter: {gpu.describe()}; subgroup variants: {runner.use_subgroups}")
    prompt = np.random.default_rng(0).integers(0, 49152, args.prompt).tolist()
    with tempfile.TemporaryDirectory() as folder:
        model = read_gguf(tiny_llama_gguf(Path(folder) / "m.gguf", **SMOLLM2_135M_SHAPES))
        gpu_prefill, gpu_decode = gpu_speeds(runner, model, prompt, args.steps)
        numpy_prefill, numpy_decode = reference_speeds(model, prompt, args.reference_steps)
    for phase, ours, peer in (
        ("prefill", gpu_prefill, numpy_prefill),
        ("decode", gpu_decode, numpy_decode),
    ):
        print(
            f"{phase:8s} wgpu {ours:9.1f} tok/s   numpy reference {peer:9.1f} tok/s   "
            f"wgpu/numpy {ours / peer:7.2f}x"
        )


if __name__ == "__main__":
    main()
