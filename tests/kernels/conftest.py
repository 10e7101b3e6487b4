"""Kernel checks on wgpu-py: a real adapter (a GPU, or Mesa's lavapipe on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.device import GpuDevice, open_device
from pagemind.gpu.runner import KernelRunner


@pytest.fixture(scope="session")
def gpu() -> GpuDevice:
    device = open_device()
    print(f"\nwgpu adapter: {device.describe()}")
    return device


@pytest.fixture(scope="session")
def runner(gpu: GpuDevice) -> KernelRunner:
    """The variants a browser on this adapter would pick."""
    return KernelRunner(gpu)


@pytest.fixture(scope="session", params=["f32", "subgroups", "rows"])
def variant_runner(request, gpu: GpuDevice) -> KernelRunner:
    """Each variant with f32 numerics in turn, for kernels that have subgroup or barrier-free
    `rows` variants (`f32`: the plain kernels, also on CPU adapters)."""
    subgroups = request.param == "subgroups"
    if subgroups and not gpu.has_subgroups:
        pytest.skip("the adapter does not offer subgroups")
    rows = request.param == "rows"
    return KernelRunner(gpu, use_subgroups=subgroups, use_rows=rows, use_f16=False)


@pytest.fixture(scope="session")
def f16_runner(gpu: GpuDevice) -> KernelRunner:
    """The `f16` variants (also on CPU adapters, which would take `rows`)."""
    if not gpu.has_f16:
        pytest.skip("the adapter does not offer shader-f16")
    return KernelRunner(gpu, use_subgroups=False, use_rows=False, use_f16=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
