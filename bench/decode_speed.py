"""Prefill and decode speed of the compiled program on the wgpu adapter against numpy.

A random model with SmolLM2-135M's shapes and formats (30 blocks, hidden 576, 9 heads over
3 KV heads, FFN 1536, vocabulary 49152, Q4_1 matrices, tied Q8_0 embedding): speed does not
depend on the values. The GPU prefills a prompt in one submit, then decodes greedily two
ways: synchronous (each step writes the token id, submits the decode phase once and reads
back the 4-byte id it picked, as when the CPU chooses) and pipelined (every step embeds the
id its predecessor picked on the GPU: all are submitted at once, then one read). The numpy
reference (models/llama.py) runs the same prompt and steps in the same run; each program is
freed before the next is built. Where the adapter has timestamp queries, the GPU time of
one decode step is also printed by kernel.

`--formats Q4_1 Q4_K_M` builds the model in each matrix format (Q4_K_M: Q4_K and Q6_K where
rows are whole 256-value super-blocks, Q5_0 and Q8_0 elsewhere, as llama-quantize writes
it). `--adapter-rank R` adds, per format, a program compiled with a random LoRA adapter of
rank R on every projection of every block (models/adapters.py), run with the adapter off
and on. The comparison then measures every variant's pipelined decode in `--turns` turns,
each turn running all variants in a rotated order, and keeps each one's best: no variant
gains from running first or after another, and a busy moment does not count.
`--copy-source N` adds, per format, the base program run with copy spans over N source ids
(the prompt's, repeated: the copy_span_bias kernel scans them all at every step), against
the same program without (an empty copy_source, as when copy_span_bias is 0).

    .venv/bin/python bench/decode_speed.py [--prompt 128] [--steps 64] [--reference-steps 8]
                                           [--no-subgroups] [--formats Q4_1 Q4_K_M]
                                           [--adapter-rank 8] [--copy-source 2048] [--turns 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pagemind.gpu.device import open_device
from pagemind.gpu.program import ProgramRunner, compile_decoder, copy_source_words
from pagemind.gpu.runner import KernelRunner
from pagemind.models.adapters import adapter_ranks, adapter_tensors, read_adapter
from pagemind.models.generate import CopySpans
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tensors import QuantTensor
from pagemind.models.tiny_adapter import random_parts, write_lora_gguf
from pagemind.models.tiny_model import tiny_llama_gguf

COPY_SPAN_BIAS = 3.0  # [assistant] copy_span_bias's default
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

    def decode_dispatches(self) -> int:
        """Dispatches per decode token in the program's adapter state now."""
        return len(self.program.steps("decode"))


@dataclass
class Variant:
    """A program in one adapter and copy-span state, measured in the comparison."""

    timed: TimedProgram
    adapter: dict[str, QuantTensor] | None = None
    copy_spans: CopySpans | None = None  # None: an empty copy_source, nothing added
    best: float = 0.0
    dispatches: int = 0

    def measure(self, prompt: list[int], steps: int) -> None:
        self.timed.program.use_adapter(self.adapter)
        spans = self.copy_spans or CopySpans([], 0.0)
        self.timed.program.write("copy_source", copy_source_words(spans))
        self.dispatches = self.timed.decode_dispatches()
        self.best = max(self.best, self.timed.pipelined_decode_speed(prompt, steps))


def measure_in_turns(variants: dict[str, Variant], prompt: list[int], steps: int, turns: int):
    """Each variant's best pipelined decode speed over `turns` turns; turn t starts at the
    t-th variant, so each runs first, last and between the others alike."""
    names = list(variants)
    for variant in variants.values():
        variant.measure(prompt, steps)  # pipelines and bind groups built before any timing
        variant.best = 0.0
    for turn in range(turns):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            variants[name].measure(prompt, steps)


def detail_speeds(
    runner: KernelRunner, model: GGUFModel, prompt: list[int], args: argparse.Namespace
) -> None:
    """Prefill and synchronous decode on the GPU against the numpy reference; the program is
    freed before the reference runs."""
    timed = TimedProgram(runner, model, len(prompt), args.steps)
    timed.prefill(prompt)  # builds pipelines and bind groups
    timed.decode(1, len(prompt))
    print(f"decode step: {timed.decode_dispatches()} dispatches")
    if "timestamp-query" in runner.gpu.features:
        print_profile(timed.program.profile("decode", {"position": len(prompt)}))
    gpu_prefill, synchronous = tokens_per_second(timed.prefill, timed.decode, prompt, args.steps)
    timed.program.destroy()
    numpy_prefill, numpy_decode = reference_speeds(model, prompt, args.reference_steps)
    for phase, ours, peer in (
        ("prefill", gpu_prefill, numpy_prefill),
        ("decode synchronous", synchronous, numpy_decode),
    ):
        print(
            f"{phase:18s} wgpu {ours:9.1f} tok/s   numpy reference {peer:9.1f} tok/s   "
            f"wgpu/numpy {ours / peer:7.2f}x"
        )


def print_profile(seconds: dict[str, float]) -> None:
    """GPU time of one decode step by kernel, each dispatch timed in its own pass."""
    total = sum(seconds.values())
    print(f"decode step GPU time {total * 1e3:.2f} ms (dispatches timed one by one):")
    for kernel, duration in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {kernel:24s} {duration * 1e6:9.1f} us  {duration / total:6.1%}")


def reference_speeds(model: GGUFModel, prompt: list[int], steps: int) -> tuple[float, float]:
    reference, cache = Llama(model), KVCache()

    def forward(tokens: list[int]) -> int:
        return int(np.argmax(reference.forward(tokens, cache)[-1]))

    return tokens_per_second(forward, lambda token, _: forward([token]), prompt, steps)


def random_adapter(model: GGUFModel, rank: int, folder: Path) -> tuple[dict, dict]:
    """The program ranks and tensors of a random rank-`rank` adapter on every projection."""
    parts = random_parts(model.config, rank)
    path = write_lora_gguf(folder / "adapter.gguf", parts, model.architecture, 2.0 * rank)
    adapter = read_adapter(path, model.config, model.architecture, 1.0)
    ranks = adapter_ranks([adapter])
    return ranks, adapter_tensors(adapter, ranks, model.config)


def comparison_variants(
    runner: KernelRunner,
    models: dict[str, GGUFModel],
    prompt: list[int],
    args: argparse.Namespace,
    folder: Path,
) -> dict[str, Variant]:
    """Per format: the base program, with --copy-source the same with copy spans, and with
    --adapter-rank a program compiled with the adapter, run off and on."""
    variants = {}
    for name, model in models.items():
        variants[name] = Variant(TimedProgram(runner, model, len(prompt), args.steps))
        if args.copy_source:
            source = (prompt * (args.copy_source // len(prompt) + 1))[: args.copy_source]
            spans = CopySpans(source, COPY_SPAN_BIAS)
            variants[f"{name} copy spans"] = Variant(variants[name].timed, copy_spans=spans)
        if args.adapter_rank:
            ranks, tensors = random_adapter(model, args.adapter_rank, folder)
            adapted = TimedProgram(runner, model, len(prompt), args.steps, ranks)
            variants[f"{name} adapter off"] = Variant(adapted)
            variants[f"{name} adapter on"] = Variant(adapted, tensors)
    return variants


def print_comparison(
    variants: dict[str, Variant], formats: list[str], args: argparse.Namespace
) -> None:
    rank = args.adapter_rank
    first = variants[formats[0]]
    print("decode pipelined, best of the turns:")
    for name in formats:
        variant = variants[name]
        print(
            f"  {name:7s} {variant.best:9.1f} tok/s  {variant.dispatches:4d} dispatches/token  "
            f"{variant.best / first.best:5.2f}x {formats[0]}"
        )
        if args.copy_source:
            spans = variants[f"{name} copy spans"]
            print(
                f"    copy spans over {args.copy_source} source ids: {spans.best:.1f} tok/s "
                f"({variant.best / spans.best - 1:+.1%} time/token)"
            )
        if rank:
            line = [f"    adapter rank {rank} on every projection:"]
            for state, label in (
                ("", "compiled without"),
                (" adapter off", "off"),
                (" adapter on", "on"),
            ):
                measured = variants[name + state]
                overhead = variant.best / measured.best - 1
                line.append(
                    f"{label} {measured.best:.1f} tok/s ({measured.dispatches} dispatches, "
                    f"{overhead:+.1%} time/token)"
                )
            print("\n      ".join(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--reference-steps", type=int, default=8)
    parser.add_argument("--no-subgroups", action="store_true")
    parser.add_argument("--formats", nargs="+", default=["Q4_1"], metavar="FORMAT")
    parser.add_argument("--adapter-rank", type=int, default=0, metavar="R")
    parser.add_argument("--copy-source", type=int, default=0, metavar="N")
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args()
    gpu = open_device()
    runner = KernelRunner(gpu, use_subgroups=False if args.no_subgroups else None)
    print(f"adapter: {gpu.describe()}; subgroup variants: {runner.use_subgroups}")
    prompt = np.random.default_rng(0).integers(0, 49152, args.prompt).tolist()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        models = {}
        for name in args.formats:
            path = tiny_llama_gguf(
                folder / f"{name}.gguf", matrix_format=name, **SMOLLM2_135M_SHAPES
            )
            models[name] = model = read_gguf(path)
            formats = sorted({tensor.format for tensor in model.tensors.values()})
            size = sum(tensor.nbytes for tensor in model.tensors.values())
            print(f"{name}: tensors in {', '.join(formats)}, {size / 1e6:.1f} MB")
            detail_speeds(runner, model, prompt, args)
        variants = comparison_variants(runner, models, prompt, args, folder)
        measure_in_turns(variants, prompt, args.steps, args.turns)
        print_comparison(variants, args.formats, args)


if __name__ == "__main__":
    main()
