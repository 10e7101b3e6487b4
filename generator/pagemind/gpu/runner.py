"""Run kernel dispatches on wgpu-py: the seed of the Python program executor.

Pipelines are built once per (kernel, weight format, variant). A step is a list of
dispatches, prepared once (bind groups, uniforms written with queue.write_buffer) and then
recorded into one command encoder and submitted once, as the browser runtime does for a
decode step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import wgpu

from pagemind.gpu.device import GpuDevice
from pagemind.gpu.kernels import KERNELS, KernelSpec, top_k_list_count

_STORAGE_USAGE = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST


def _for_naga(source: str) -> str:
    """wgpu-py's shader compiler (Naga) offers subgroup builtins once the device feature is on,
    but rejects the standard `enable subgroups;` directive that browsers require."""
    return source.replace("enable subgroups;", "", 1)


def _record(compute_pass: wgpu.GPUComputePassEncoder, prepared: PreparedDispatch) -> None:
    compute_pass.set_pipeline(prepared.pipeline)
    compute_pass.set_bind_group(0, prepared.bind_group)
    compute_pass.dispatch_workgroups(*prepared.workgroups)


@dataclass(frozen=True)
class BufferRange:
    """A sub-range of a buffer, e.g. one tensor inside a model shard (offset 256-aligned)."""

    buffer: wgpu.GPUBuffer
    offset: int = 0
    size: int | None = None

    def resource(self) -> dict[str, object]:
        size = self.buffer.size - self.offset if self.size is None else self.size
        return {"buffer": self.buffer, "offset": self.offset, "size": size}


@dataclass(frozen=True)
class Dispatch:
    """One kernel run: buffers by binding name (the uniform buffer is made from `uniforms`)."""

    kernel: str
    buffers: Mapping[str, wgpu.GPUBuffer | BufferRange]
    uniforms: Mapping[str, float] = field(default_factory=dict)
    weight_format: str | None = None


@dataclass(frozen=True)
class BufferCopy:
    """Bytes a submit copies after its dispatches, e.g. a decode step's chosen token id into
    its own slot of a buffer read back once for many steps."""

    source: wgpu.GPUBuffer
    target: wgpu.GPUBuffer
    size: int
    source_offset: int = 0
    target_offset: int = 0


@dataclass(frozen=True)
class PreparedDispatch:
    """A dispatch with its GPU objects made, ready to be recorded into any number of steps."""

    spec: KernelSpec
    pipeline: wgpu.GPUComputePipeline
    bind_group: wgpu.GPUBindGroup
    uniform_buffer: wgpu.GPUBuffer
    workgroups: tuple[int, int, int]


class KernelRunner:
    def __init__(
        self,
        gpu: GpuDevice,
        use_subgroups: bool | None = None,
        shader_dir: Path | None = None,
        use_rows: bool | None = None,
        use_f16: bool | None = None,
    ) -> None:
        """use_subgroups: None picks the subgroup variants where the adapter offers them.
        use_rows: None picks the barrier-free `rows` variants on CPU adapters, as the browser
        does; where a kernel has both, `rows` wins.
        use_f16: None picks the `f16` variants where the adapter offers `shader-f16`, as the
        browser does; they come after `rows` and before the subgroup variants.
        shader_dir: where the WGSL files are (default: the shaders pagemind ships)."""
        self.gpu = gpu
        self.shader_dir = shader_dir
        self.device = gpu.device
        self.use_subgroups = gpu.has_subgroups if use_subgroups is None else use_subgroups
        if self.use_subgroups and not gpu.has_subgroups:
            raise ValueError("the adapter does not offer subgroups")
        self.use_rows = gpu.is_cpu if use_rows is None else use_rows
        self.use_f16 = gpu.has_f16 if use_f16 is None else use_f16
        if self.use_f16 and not gpu.has_f16:
            raise ValueError("the adapter does not offer shader-f16")
        self._pipelines: dict[tuple, wgpu.GPUComputePipeline] = {}

    def pipeline(self, spec: KernelSpec, weight_format: str | None) -> wgpu.GPUComputePipeline:
        key = (spec.entry_point, spec.files, weight_format)  # a variant may keep the entry point
        if key not in self._pipelines:
            module = self.device.create_shader_module(
                label=f"{spec.name}-{weight_format}",
                code=_for_naga(spec.source(weight_format, self.use_subgroups, self.shader_dir)),
            )
            self._pipelines[key] = self.device.create_compute_pipeline(
                layout=wgpu.AutoLayoutMode.auto,
                compute={"module": module, "entry_point": spec.entry(self.use_subgroups)},
            )
        return self._pipelines[key]

    def upload(self, data: np.ndarray | bytes) -> wgpu.GPUBuffer:
        """A storage buffer holding `data`, zero-padded to a whole number of u32 words."""
        raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
        raw += bytes(-len(raw) % 4)
        return self.device.create_buffer_with_data(data=raw, usage=_STORAGE_USAGE)

    def empty(self, nbytes: int) -> wgpu.GPUBuffer:
        return self.device.create_buffer(size=max(4, nbytes + -nbytes % 4), usage=_STORAGE_USAGE)

    def read(self, buffer: wgpu.GPUBuffer, dtype: type = np.float32) -> np.ndarray:
        return np.frombuffer(self.device.queue.read_buffer(buffer), dtype=dtype).copy()

    def prepare(self, dispatches: Sequence[Dispatch]) -> list[PreparedDispatch]:
        """Build pipelines, bind groups and uniform buffers once; a step can then be
        submitted again and again (as a program's decode step is) without rebuilding them."""
        return [self._prepare(dispatch) for dispatch in dispatches]

    def update_uniforms(
        self, prepared: PreparedDispatch, uniforms: Mapping[str, float]
    ) -> PreparedDispatch:
        """The same dispatch with new uniform values (e.g. the next decode position)."""
        self.device.queue.write_buffer(
            prepared.uniform_buffer, 0, prepared.spec.pack_uniforms(uniforms)
        )
        return replace(prepared, workgroups=prepared.spec.workgroup_count(uniforms))

    def submit(self, step: Sequence[PreparedDispatch], copies: Sequence[BufferCopy] = ()) -> None:
        """Record the step's dispatches into one compute pass, then `copies`, and submit it
        once; WebGPU orders the dispatches' storage accesses within the pass."""
        encoder = self.device.create_command_encoder()
        compute_pass = encoder.begin_compute_pass()
        for prepared in step:
            _record(compute_pass, prepared)
        compute_pass.end()
        for copy in copies:
            encoder.copy_buffer_to_buffer(
                copy.source, copy.source_offset, copy.target, copy.target_offset, copy.size
            )
        self.device.queue.submit([encoder.finish()])

    def profile(self, step: Sequence[PreparedDispatch]) -> list[float]:
        """GPU seconds of each dispatch of the step, each run in its own timed compute pass
        (for benchmarks; needs the timestamp-query feature)."""
        if "timestamp-query" not in self.gpu.features:
            raise ValueError("the adapter does not offer timestamp queries")
        count = 2 * len(step)
        query_set = self.device.create_query_set(type="timestamp", count=count)
        resolved = self.device.create_buffer(
            size=8 * count, usage=wgpu.BufferUsage.QUERY_RESOLVE | wgpu.BufferUsage.COPY_SRC
        )
        encoder = self.device.create_command_encoder()
        for index, prepared in enumerate(step):
            compute_pass = encoder.begin_compute_pass(
                timestamp_writes={
                    "query_set": query_set,
                    "beginning_of_pass_write_index": 2 * index,
                    "end_of_pass_write_index": 2 * index + 1,
                }
            )
            _record(compute_pass, prepared)
            compute_pass.end()
        encoder.resolve_query_set(query_set, 0, count, resolved, 0)
        self.device.queue.submit([encoder.finish()])
        nanoseconds = self.read(resolved, np.uint64).reshape(-1, 2)
        return ((nanoseconds[:, 1] - nanoseconds[:, 0]) * 1e-9).tolist()

    def run(self, dispatches: Sequence[Dispatch]) -> None:
        self.submit(self.prepare(dispatches))

    def run_one(
        self,
        kernel: str,
        arrays: Mapping[str, np.ndarray],
        uniforms: Mapping[str, float],
        weight_format: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Upload `arrays` (weights as raw bytes), run one dispatch, and return every buffer the
        kernel writes, read back with the dtype and shape of the array given for it."""
        buffers = {name: self.upload(array) for name, array in arrays.items()}
        self.run([Dispatch(kernel, buffers, uniforms, weight_format)])
        written = (b.name for b in KERNELS[kernel].bindings if b.access == "read_write")
        return {
            name: self.read(buffers[name], arrays[name].dtype)[: arrays[name].size].reshape(
                arrays[name].shape
            )
            for name in written
        }

    def variant(self, kernel: str) -> KernelSpec:
        """The spec this runner uses for `kernel`: its `rows` or else `f16` variant where
        chosen."""
        spec = KERNELS[kernel]
        if self.use_rows and spec.rows:
            return spec.rows
        return spec.f16 if self.use_f16 and spec.f16 else spec

    def _prepare(self, dispatch: Dispatch) -> PreparedDispatch:
        spec = self.variant(dispatch.kernel)
        pipeline = self.pipeline(spec, dispatch.weight_format)
        uniform_buffer = self.device.create_buffer(
            size=len(spec.pack_uniforms(dispatch.uniforms)),
            usage=wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST,
        )
        bind_group = self._bind_group(spec, pipeline, dispatch.buffers, uniform_buffer)
        prepared = PreparedDispatch(spec, pipeline, bind_group, uniform_buffer, (0, 0, 0))
        return self.update_uniforms(prepared, dispatch.uniforms)

    def _bind_group(
        self,
        spec: KernelSpec,
        pipeline: wgpu.GPUComputePipeline,
        buffers: Mapping[str, wgpu.GPUBuffer | BufferRange],
        uniform_buffer: wgpu.GPUBuffer,
    ) -> wgpu.GPUBindGroup:
        entries = []
        for binding in spec.bindings:
            if binding.access == "uniform":
                resource = {"buffer": uniform_buffer}
            elif binding.name in buffers:
                given = buffers[binding.name]
                resource = (
                    given if isinstance(given, BufferRange) else BufferRange(given)
                ).resource()
            else:
                raise ValueError(f"kernel {spec.name}: buffer {binding.name!r} not given")
            entries.append({"binding": binding.slot, "resource": resource})
        return self.device.create_bind_group(
            layout=pipeline.get_bind_group_layout(0), entries=entries
        )


def top_k_dispatches(
    runner: KernelRunner, x: np.ndarray, k: int
) -> tuple[list[Dispatch], dict[str, wgpu.GPUBuffer]]:
    """The two top_k stages over `x` as a program runs them (each list's k best, then the k
    best of those), with their buffers: `indices` and `values` hold the result."""
    n_candidates = top_k_list_count(x.size) * k
    buffers = {
        "x": runner.upload(x),
        "candidate_values": runner.empty(4 * n_candidates),
        "candidate_indices": runner.empty(4 * n_candidates),
        "indices": runner.empty(4 * k),
        "values": runner.empty(4 * k),
    }
    uniforms = {"n": x.size, "k": k}
    stages = [Dispatch(stage, buffers, uniforms) for stage in ("top_k_lists", "top_k")]
    return stages, buffers
