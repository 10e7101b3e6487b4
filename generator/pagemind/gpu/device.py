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

    @property
    def is_opengl(self) -> bool:
        """wgpu's OpenGL backend: the kernels reach the driver as GLSL, whose compilers
        (Mesa's among them) have miscompiled correct kernels; Vulkan is the tested path."""
        return self.adapter_info.get("backend_type") == "OpenGL"

    def describe(self) -> str:
        info = self.adapter_info
        return (
            f"{info.get('device')} ({info.get('description')}, {info.get('backend_type')}); "
            f"features: {', '.join(sorted(self.features)) or 'none'}"
        )


def open_device() -> GpuDevice:
    """A device on the high-performance adapter (the backend WGPU_BACKEND_TYPE names, if set)."""
    # Silence Mesa's warning about a missing XDG_RUNTIME_DIR on headless machines.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")
    try:
        adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
    except RuntimeError:  # wgpu-native rejects the request when no backend has an adapter
        adapter = None
    if adapter is None:
        raise _no_adapter(os.environ.get("WGPU_BACKEND_TYPE"))
    return device_on(adapter)


def _no_adapter(forced_backend: str | None) -> PagemindError:
    fix = "install Mesa's Vulkan drivers (apt-get install mesa-vulkan-drivers) so wgpu-py can "
    fix += "run on the CPU, or skip the checks with --no-check"
    if forced_backend is None:
        return PagemindError("no WebGPU adapter found for the GPU checks", fix=fix)
    return PagemindError(
        f"no WebGPU adapter found for the GPU checks on the {forced_backend} backend",
        key="WGPU_BACKEND_TYPE",
        fix=f"unset WGPU_BACKEND_TYPE to let wgpu-py pick a backend; {fix}",
    )


def device_on(adapter: wgpu.GPUAdapter) -> GpuDevice:
    """A device on `adapter` with the limits a model needs and the optional features offered."""
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
