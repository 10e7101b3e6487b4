"""Q4_1 matvec and matmul speed on the wgpu adapter against numpy's matmul on the dequantized
matrix, and top_k's over the logits.

matvec: the two shapes of a SmolLM2-135M decode step that matter most, an FFN projection
(1536 x 576) and the output projection over the vocabulary (49152 x 576). matmul: a prefill
batch of --tokens tokens through the FFN projections (1536 x 576 and 576 x 1536). The GPU time
is per dispatch, from a prepared batch of dispatches recorded into one compute pass and
submitted once (as a decode step is), synchronised by reading back the output. numpy runs in
the same process on the same values; each figure is the best of several repetitions.
top_k: both stages (top_k_lists, then top_k) over SmolLM2's 49152 logits, as a decode step
runs them, for k = 1 (greedy) and 40 (the site's programs), timed the same way.
--variant picks the kernel variants (default: what a browser on this adapter picks; `plain`
and `f16` force the tiled matmul with f32 or f16 tiles on CPU adapters, which otherwise take
`rows`).

    .venv/bin/python bench/kernels_speed.py [--dispatches 100] [--repeats 5] [--no-subgroups]
        [--tokens 128] [--variant auto|plain|f16|rows] [--only matvec|matmul|top_k]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pagemind.gpu.compare import relative_error
from pagemind.gpu.device import open_device
from pagemind.gpu.runner import Dispatch, KernelRunner, top_k_dispatches
from pagemind.models.tensors import QuantTensor

MATVEC_SHAPES = {"ffn gate/up (1536 x 576)": (1536, 576), "output (49152 x 576)": (49152, 576)}
MATMUL_SHAPES = {"ffn gate/up (1536 x 576)": (1536, 576), "ffn down (576 x 1536)": (576, 1536)}
TOP_K_VOCAB = 49152  # SmolLM2's
TOP_K_COUNTS = (1, 40)  # greedy benches; the site's programs (SAMPLING_CANDIDATES)
# --variant: (use_rows, use_f16) of the runner.
VARIANTS = {
    "auto": (None, None),
    "plain": (False, False),
    "f16": (False, True),
    "rows": (True, False),
}


def best_seconds(action, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def measure(
    runner: KernelRunner,
    kernel: str,
    shape: tuple[int, int],
    n_tokens: int | None,
    dispatches: int,
    repeats: int,
) -> None:
    """One kernel on a random Q4_1 matrix of `shape` and x of n_tokens rows (None: a vector)."""
    n_out, n_in = shape
    rng = np.random.default_rng(0)
    weights = QuantTensor.from_array("w", rng.standard_normal(shape, dtype=np.float32), "Q4_1")
    batch = () if n_tokens is None else (n_tokens,)
    x = rng.standard_normal((*batch, n_in), dtype=np.float32)
    out = runner.empty(x.size // n_in * n_out * 4)
    buffers = {"weights": runner.upload(weights.data), "x": runner.upload(x), "out": out}
    uniforms = {"n_in": n_in, "n_out": n_out} | ({} if n_tokens is None else {"n_tokens": n_tokens})
    step = runner.prepare([Dispatch(kernel, buffers, uniforms, "Q4_1")]) * dispatches

    def gpu_step() -> None:
        runner.submit(step)
        runner.read(out)

    gpu_step()  # builds the pipeline
    matrix = weights.dequantize()
    expected = x @ matrix.T
    error = relative_error(runner.read(out).reshape(expected.shape), expected)
    gpu = best_seconds(gpu_step, repeats) / dispatches
    numpy_seconds = best_seconds(lambda: [x @ matrix.T for _ in range(dispatches)], repeats)
    numpy_seconds /= dispatches
    speed = (
        f"{weights.nbytes / gpu / 1e9:6.2f} GB/s of Q4_1 weights"
        if n_tokens is None
        else f"{2 * n_tokens * n_in * n_out / gpu / 1e9:7.2f} GFLOP/s"
    )
    print(
        f"  wgpu {gpu * 1e6:9.1f} us ({speed})   numpy f32 {numpy_seconds * 1e6:9.1f} us   "
        f"numpy/wgpu {numpy_seconds / gpu:7.3g}x   max rel. error {error:.1e}"
    )


def measure_top_k(runner: KernelRunner, k: int, dispatches: int, repeats: int) -> None:
    """Both top_k stages over TOP_K_VOCAB random logits."""
    logits = np.random.default_rng(0).standard_normal(TOP_K_VOCAB, dtype=np.float32)
    stages, buffers = top_k_dispatches(runner, logits, k)
    step = runner.prepare(stages) * dispatches

    def gpu_step() -> None:
        runner.submit(step)
        runner.read(buffers["indices"])

    gpu_step()  # builds the pipelines
    expected = np.argsort(-logits, kind="stable")[:k]
    matches = np.array_equal(runner.read(buffers["indices"], np.uint32), expected)
    gpu = best_seconds(gpu_step, repeats) / dispatches
    print(f"  k = {k:2}: wgpu {gpu * 1e6:9.1f} us per top_k   matches numpy: {matches}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dispatches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-subgroups", action="store_true")
    parser.add_argument("--tokens", type=int, default=128, help="matmul batch (prefill tokens)")
    parser.add_argument("--variant", choices=VARIANTS, default="auto")
    parser.add_argument("--only", choices=("matvec", "matmul", "top_k"))
    args = parser.parse_args()
    gpu = open_device()
    runner = KernelRunner(
        gpu,
        use_subgroups=False if args.no_subgroups else None,
        use_rows=VARIANTS[args.variant][0],
        use_f16=VARIANTS[args.variant][1],
    )
    print(f"adapter: {gpu.describe()}")
    for kernel, shapes, n_tokens in (
        ("matvec", MATVEC_SHAPES, None),
        ("matmul", MATMUL_SHAPES, args.tokens),
    ):
        if args.only not in (None, kernel):
            continue
        spec = runner.variant(kernel)
        subgroups = runner.use_subgroups and spec.subgroups is not None
        files = " + ".join(spec.module_files("Q4_1", subgroups))
        print(f"{kernel}: entry point {spec.entry(subgroups)}, {files}")
        for label, shape in shapes.items():
            print(f"{label}{'' if n_tokens is None else f' x {n_tokens} tokens'}")
            measure(runner, kernel, shape, n_tokens, args.dispatches, args.repeats)
    if args.only in (None, "top_k"):
        entry_points = ", ".join(
            runner.variant(stage).entry_point for stage in ("top_k_lists", "top_k")
        )
        print(f"top_k over {TOP_K_VOCAB} logits: entry points {entry_points}")
        for k in TOP_K_COUNTS:
            measure_top_k(runner, k, args.dispatches, args.repeats)


if __name__ == "__main__":
    main()
