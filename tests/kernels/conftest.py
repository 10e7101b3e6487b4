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
    """Each variant in turn, for kernels that have subgroup or barrier-free `rows` variants."""
    subgroups = request.param == "subgroups"
    if subgroups and not gpu.has_subgroups:
        pytest.skip("the adapter does not offer subgroups")
    return KernelRunner(gpu, use_subgroups=subgroups, use_rows=request.param == "rows")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
