"""Q4_1 matvec speed on the wgpu adapter against numpy's matmul on the dequantized matrix.

The two shapes of a SmolLM2-135M decode step that matter most: an FFN projection (1536 x 576)
and the output projection over the vocabulary (49152 x 576). The GPU time is per dispatch,
from a prepared batch of dispatches recorded into one compute pass and submitted once (as a
decode step is), synchronised by reading back the output. numpy runs in the same process on the
same values; each figure is the best of several repetitions.

    .venv/bin/python bench/kernels_speed.py [--dispatches 100] [--repeats 5] [--no-subgroups]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pagemind.gpu.compare import relative_error
from pagemind.gpu.device import open_device
from pagemind.gpu.runner import Dispatch, KernelRunner
from pagemind.models.tensors import QuantTensor

SHAPES = {"ffn gate/up (1536 x 576)": (1536, 576), "output (49152 x 576)": (49152, 576)}


def best_seconds(action, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def measure(runner: KernelRunner, shape: tuple[int, int], dispatches: int, repeats: int) -> None:
    n_out, n_in = shape
    rng = np.random.default_rng(0)
    weights = QuantTensor.from_array("w", rng.standard_normal(shape, dtype=np.float32), "Q4_1")
    x = rng.standard_normal(n_in, dtype=np.float32)
    out = runner.empty(n_out * 4)
    buffers = {"weights": runner.upload(weights.data), "x": runner.upload(x), "out": out}
    step = runner.prepare([Dispatch("matvec", buffers, {"n_in": n_in, "n_out": n_out}, "Q4_1")])
    step *= dispatches

    def gpu_step() -> None:
        runner.submit(step)
        runner.read(out)

    gpu_step()  # builds the pipeline
    matrix = weights.dequantize()
    error = relative_error(runner.read(out), matrix @ x)
    gpu = best_seconds(gpu_step, repeats) / dispatches
    numpy_seconds = best_seconds(lambda: [matrix @ x for _ in range(dispatches)], repeats)
    numpy_seconds /= dispatches
    weight_mb = weights.nbytes / 1e6
    print(
        f"  wgpu {gpu * 1e6:9.1f} us ({weight_mb / gpu / 1e3:6.2f} GB/s of Q4_1 weights)   "
        f"numpy f32 {numpy_seconds * 1e6:9.1f} us   numpy/wgpu {numpy_seconds / gpu:7.3g}x   "
        f"max rel. error {error:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dispatches", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-subgroups", action="store_true")
    args = parser.parse_args()
    gpu = open_device()
    runner = KernelRunner(gpu, use_subgroups=False if args.no_subgroups else None)
    variant = "subgroups" if runner.use_subgroups else "f32 workgroup reduction"
    print(f"adapter: {gpu.describe()}\nmatvec variant: {variant}")
    for label, shape in SHAPES.items():
        print(label)
        measure(runner, shape, args.dispatches, args.repeats)


if __name__ == "__main__":
    main()
