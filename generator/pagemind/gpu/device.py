"""Open a wgpu-py device (a real GPU, or Mesa's lavapipe without one) for the kernel checks."""

from __future__ import annotations

import os
from dataclasses import dataclass

import wgpu

from pagemind.errors import PagemindError

# Limits a model needs above WebGPU's defaults: its largest tensors are bound whole.
_REQUESTED_LIMITS = ("max-storage-buffer-binding-size", "max-buffer-size")
# Optional features (kernel variants; GPU timings for benchmarks), by WebGPU name, with the
# names the adapter may list them under (wgpu-native 0.32 calls subgroups "subgroup").
_OPTIONAL_FEATURES = {
    "subgroups": ("subgroups", "subgroup"),
    "shader-f16": ("shader-f16",),
    "timestamp-query": ("timestamp-query",),
}


@dataclass(frozen=True)
class GpuDevice:
    device: wgpu.GPUDevice
    adapter_info: dict[str, object]
    features: frozenset[str]
    limits: dict[str, int]

    @property
    def has_subgroups(self) -> bool:
        return "subgroups" in self.features

    @property
    def has_f16(self) -> bool:
        return "shader-f16" in self.features

    @property
    def is_cpu(self) -> bool:
        """A software adapter (lavapipe/llvmpipe), which takes the barrier-free kernel variants."""
        info = self.adapter_info
        names = f"{info.get('vendor')} {info.get('device')}".lower()
        return info.get("adapter_type") == "CPU" or any(
            name in names for name in ("lavapipe", "llvmpipe")
        )

    def describe(self) -> str:
        info = self.adapter_info
        return (
            f"{info.get('device')} ({info.get('description')}, {info.get('backend_type')}); "
            f"features: {', '.join(sorted(self.features)) or 'none'}"
        )


def open_device() -> GpuDevice:
    """Request the high-performance adapter with the limits and optional features it offers."""
    # Silence Mesa's warning about a missing XDG_RUNTIME_DIR on headless machines.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    if adapter is None:
        raise PagemindError(
            "no WebGPU adapter found for the GPU checks",
            fix="install Mesa's Vulkan drivers (apt-get install mesa-vulkan-drivers) "
            "so wgpu-py can run on the CPU, or skip the checks with `pagemind build --no-check`",
        )
    offered = {
        feature: next(name for name in names if name in adapter.features)
        for feature, names in _OPTIONAL_FEATURES.items()
        if any(name in adapter.features for name in names)
    }
    limits = {name: adapter.limits[name] for name in _REQUESTED_LIMITS}
    device = adapter.request_device_sync(
        label="pagemind-checks",
        required_features=sorted(offered.values()),
        required_limits=limits,
    )
    return GpuDevice(device, dict(adapter.info), frozenset(offered), limits)
