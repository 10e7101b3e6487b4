"""Prefill and decode speed of the compiled program on the wgpu adapter against numpy.

A random model with SmolLM2-135M's shapes and formats (30 blocks, hidden 576, 9 heads over
3 KV heads, FFN 1536, vocabulary 49152, Q4_1 matrices, tied Q8_0 embedding): speed does not
depend on the values. The GPU prefills a prompt in one submit, then decodes greedily two
ways: synchronous (each step writes the token id, submits the decode phase once and reads
back the 4-byte id it picked, as when the CPU chooses) and pipelined (every step embeds the
id its predecessor picked on the GPU: all are submitted at once, then one read). The numpy
reference (models/llama.py) runs the same prompt and steps in the same run.
Where the adapter has timestamp queries, the GPU time of one decode step is also printed by
kernel. `--formats Q4_1 Q4_K_M` runs the model in each matrix format in turn (Q4_K_M: Q4_K
and Q6_K where rows are whole 256-value super-blocks, Q5_0 and Q8_0 elsewhere, as
llama-quantize writes it) and compares their decode speeds in the same run.
`--adapter-rank R` adds a random LoRA adapter of rank R on every projection of every block
(models/adapters.py) and prints the pipelined decode speed with it off and on, in turns on
one program: the cost of the adapter steps per token.

    .venv/bin/python bench/decode_speed.py [--prompt 128] [--steps 64] [--reference-steps 8]
                                           [--no-subgroups] [--formats Q4_1 Q4_K_M]
                                           [--adapter-rank 8]
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
from pagemind.models.adapters import adapter_ranks, adapter_tensors, read_adapter
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_adapter import random_parts, write_lora_gguf
from pagemind.models.tiny_model import tiny_llama_gguf

SMOLLM2_135M_SHAPES = {
    "hidden_size": 576,
    "num_layers": 30,
    "num_heads": 9,
    "num_kv_heads": 3,
    "intermediate_size": 1536,
    "vocab_size": 49152,
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


class TimedProgram:
    """A decoder program on wgpu-py, run step by step with a read after each."""

    def __init__(
        self,
        runner: KernelRunner,
        model: GGUFModel,
        longest: int,
        steps: int,
        adapter_ranks: dict[str, int] | None = None,
    ):
        program = compile_decoder(
            model, longest + steps + 1, max_prefill_tokens=longest, adapter_ranks=adapter_ranks
        )
        self.program = ProgramRunner(runner, program, model.tensors)

    def prefill(self, tokens: list[int]) -> int:
        self.program.write("tokens", np.array(tokens, np.uint32))
        self.program.run("prefill", {"n_tokens": len(tokens), "position": 0})
        return self.chosen()

    def decode(self, token: int, position: int) -> int:
        """One synchronous step: the token written where decode reads it, the pick read."""
        self.program.write("top_indices", np.array([token], np.uint32))
        self.program.run("decode", {"position": position})
        return self.chosen()

    def chosen(self) -> int:
        return int(self.program.read("top_indices", np.uint32)[0])

    def pipelined_decode_speed(self, prompt: list[int], steps: int) -> float:
        """Tokens per second of `steps` greedy steps after `prompt`, submitted together."""
        self.prefill(prompt)
        start = time.perf_counter()
        self.program.decode_greedy(len(prompt), steps)
        return steps / (time.perf_counter() - start)


def gpu_speeds(
    runner: KernelRunner, model: GGUFModel, prompt: list[int], steps: int
) -> tuple[float, float, float]:
    """Prefill, synchronous decode and pipelined decode speeds."""
    timed = TimedProgram(runner, model, len(prompt), steps)
    timed.prefill(prompt)  # builds pipelines and bind groups
    timed.decode(1, len(prompt))
    print(f"decode step: {len(timed.program.program.phases['decode'])} dispatches")
    if "timestamp-query" in runner.gpu.features:
        print_profile(timed.program.profile("decode", {"position": len(prompt)}))
    prefill, synchronous = tokens_per_second(timed.prefill, timed.decode, prompt, steps)
    return prefill, synchronous, timed.pipelined_decode_speed(prompt, steps)


def adapter_overhead(
    runner: KernelRunner, model: GGUFModel, prompt: list[int], steps: int, rank: int, folder: Path
) -> None:
    """Pipelined decode with a rank-`rank` adapter off and on, alternating three times on
    one program (the best of each kept, so a busy moment does not count)."""
    parts = random_parts(model.config, rank)
    path = write_lora_gguf(folder / "adapter.gguf", parts, model.architecture, 2.0 * rank)
    adapter = read_adapter(path, model.config, model.architecture, 1.0)
    ranks = adapter_ranks([adapter])
    timed = TimedProgram(runner, model, len(prompt), steps, ranks)
    tensors = adapter_tensors(adapter, ranks, model.config)
    best = {"off": 0.0, "on": 0.0}
    for _ in range(3):
        for state in best:
            timed.program.use_adapter(tensors if state == "on" else None)
            best[state] = max(best[state], timed.pipelined_decode_speed(prompt, steps))
    extra = sum(step.adapter for step in timed.program.program.phases["decode"])
    print(
        f"adapter rank {rank} on every projection ({extra} more dispatches per token): decode "
        f"{best['off']:.1f} tok/s off, {best['on']:.1f} tok/s on, "
        f"{best['off'] / best['on'] - 1:+.1%} time per token"
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


def format_speeds(
    runner: KernelRunner, matrix_format: str, prompt: list[int], args: argparse.Namespace
) -> float:
    """Print one format's speeds against the numpy reference; return the pipelined decode's."""
    with tempfile.TemporaryDirectory() as folder:
        path = tiny_llama_gguf(
            Path(folder) / "m.gguf", matrix_format=matrix_format, **SMOLLM2_135M_SHAPES
        )
        model = read_gguf(path)
        formats = sorted({tensor.format for tensor in model.tensors.values()})
        size = sum(tensor.nbytes for tensor in model.tensors.values())
        print(f"{matrix_format}: tensors in {', '.join(formats)}, {size / 1e6:.1f} MB")
        gpu_prefill, synchronous, pipelined = gpu_speeds(runner, model, prompt, args.steps)
        numpy_prefill, numpy_decode = reference_speeds(model, prompt, args.reference_steps)
        if args.adapter_rank:
            adapter_overhead(runner, model, prompt, args.steps, args.adapter_rank, Path(folder))
    for phase, ours, peer in (
        ("prefill", gpu_prefill, numpy_prefill),
        ("decode synchronous", synchronous, numpy_decode),
        ("decode pipelined", pipelined, numpy_decode),
    ):
        print(
            f"{phase:18s} wgpu {ours:9.1f} tok/s   numpy reference {peer:9.1f} tok/s   "
            f"wgpu/numpy {ours / peer:7.2f}x"
        )
    print(f"pipelined/synchronous decode {pipelined / synchronous:.2f}x")
    return pipelined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--reference-steps", type=int, default=8)
    parser.add_argument("--no-subgroups", action="store_true")
    parser.add_argument("--formats", nargs="+", default=["Q4_1"], metavar="FORMAT")
    parser.add_argument("--adapter-rank", type=int, default=0, metavar="R")
    args = parser.parse_args()
    gpu = open_device()
    runner = KernelRunner(gpu, use_subgroups=False if args.no_subgroups else None)
    print(f"adapter: {gpu.describe()}; subgroup variants: {runner.use_subgroups}")
    prompt = np.random.default_rng(0).integers(0, 49152, args.prompt).tolist()
    speeds = {name: format_speeds(runner, name, prompt, args) for name in args.formats}
    first = args.formats[0]
    for name, speed in speeds.items():
        print(
            f"decode pipelined {name:7s} {speed:9.1f} tok/s   {speed / speeds[first]:5.2f}x {first}"
        )


if __name__ == "__main__":
    main()
