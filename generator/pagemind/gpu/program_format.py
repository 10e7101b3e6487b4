"""A compiled program as JSON for the browser runtime (runtime/executor.js executes it).

    {
      "format": "pagemind-program/1",
      "context_length": positions the KV cache holds (decoders only),
      "buffers": {name: {"bytes": n, "tensor": manifest tensor name (absent: zeroed),
                         "adapter": true where the adapter's manifest holds that tensor}},
      "modules": {"kernel" or "kernel:FORMAT": {"files": [...], "entry_point": ...,
                  "subgroups": {"files": [...], "entry_point": ...} or null,
                  "rows": {"files": [...], "entry_point": ...,
                           "workgroups": [expression, expression, expression]} or null,
                  "f16": {"files": [...], "entry_point": ...,
                          "workgroups": [expression, expression, expression]} or null}},
      "phases": {phase: {"variables": [...], "steps": [
        {"kernel": ..., "module": key in modules,
         "bindings": [{"slot": n, "buffer": name} or {"slot": n, "uniforms": true}],
         "uniforms": [{"name": ..., "type": "u32" | "f32", "value": number or expression}],
         "workgroups": [expression, expression, expression],
         "adapter": true on steps that run only while an adapter is on, false on those
                    that run only while none is; absent on steps that always run}]}}
    }

A prompt longer than the `tokens` buffer (the prefill phase's most tokens) is prefilled in
chunks, each run at `position` after the last; prompt plus answer fit in `context_length`.
A module is its files concatenated in order (shaders/README.md); the `rows` variant (with
its own workgroup counts, replacing the step's) is used on CPU adapters, else the `f16`
variant (likewise) when the device has the `shader-f16` feature (its first file opens with
`enable f16;`), else the subgroup variant when the device has the `subgroups` feature.
Expressions use + - * / and `ceil` over
the phase variables (uniforms: the phase variables; workgroups: the step's uniform values),
exactly as pagemind.gpu.kernels.evaluate reads them.
"""

from __future__ import annotations

from pagemind.gpu.kernels import KERNELS, KernelSpec
from pagemind.gpu.program import Program, ProgramStep

FORMAT = "pagemind-program/1"


def program_to_dict(program: Program) -> dict:
    """The JSON-able form of `program` described in the module docstring."""
    steps = [step for phase in program.phases.values() for step in phase]
    context = {"context_length": program.context_length} if program.context_length else {}
    return {
        "format": FORMAT,
        **context,
        "buffers": {
            name: {
                "bytes": spec.nbytes,
                **({"tensor": spec.tensor} if spec.tensor else {}),
                **({"adapter": True} if spec.adapter else {}),
            }
            for name, spec in program.buffers.items()
        },
        "modules": {_module_key(step): _module(step) for step in steps},
        "phases": {name: _phase(phase) for name, phase in program.phases.items()},
    }


def _phase(steps: list[ProgramStep]) -> dict:
    variables = sorted(
        {
            name
            for step in steps
            for value in step.uniforms.values()
            if isinstance(value, str)
            for name in compile(value, "<uniform expression>", "eval").co_names
            if name != "ceil"
        }
    )
    return {"variables": variables, "steps": [_step(step) for step in steps]}


def _step(step: ProgramStep) -> dict:
    spec = KERNELS[step.kernel]
    missing = {b.name for b in spec.bindings if b.access != "uniform"} - set(step.buffers)
    if missing:
        raise ValueError(f"kernel {step.kernel}: buffers {sorted(missing)} not bound")
    uniforms = {**dict(spec.defaults), **step.uniforms}
    return {
        "kernel": step.kernel,
        "module": _module_key(step),
        "bindings": [
            {"slot": b.slot, "uniforms": True}
            if b.access == "uniform"
            else {"slot": b.slot, "buffer": step.buffers[b.name]}
            for b in spec.bindings
        ],
        "uniforms": [
            {"name": name, "type": kind, "value": uniforms[name]} for name, kind in spec.uniforms
        ],
        "workgroups": list(spec.workgroups),
        **({"adapter": step.adapter} if step.adapter is not None else {}),
    }


def _module_key(step: ProgramStep) -> str:
    return f"{step.kernel}:{step.weight_format}" if step.weight_format else step.kernel


def _module(step: ProgramStep) -> dict:
    spec = KERNELS[step.kernel]
    files = spec.module_files(step.weight_format)
    return {
        "files": files,
        "entry_point": spec.entry_point,
        "subgroups": {
            "files": spec.module_files(step.weight_format, subgroups=True),
            "entry_point": spec.subgroups.entry_point,
        }
        if spec.subgroups
        else None,
        "rows": _whole_variant(spec.rows, step.weight_format),
        "f16": _whole_variant(spec.f16, step.weight_format),
    }


def _whole_variant(variant: KernelSpec | None, weight_format: str | None) -> dict | None:
    """A variant with its own files, entry point and workgroup counts (`rows`, `f16`)."""
    if variant is None:
        return None
    return {
        "files": variant.module_files(weight_format),
        "entry_point": variant.entry_point,
        "workgroups": list(variant.workgroups),
    }
