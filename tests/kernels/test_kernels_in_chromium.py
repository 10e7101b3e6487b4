"""Every kernel module also compiles in Chromium's WebGPU (Tint, stricter than wgpu-py's Naga
in places), on SwiftShader, exactly as the browser runtime will build it."""

from __future__ import annotations

import pytest
from pagemind.gpu.kernels import KERNELS, WEIGHT_FORMATS

pytestmark = [pytest.mark.gpu, pytest.mark.browser]

COMPILE_ALL = """
async (modules) => {
  const adapter = await navigator.gpu.requestAdapter();
  const subgroups = adapter.features.has("subgroups");
  const f16 = adapter.features.has("shader-f16");
  const device = await adapter.requestDevice({
    requiredFeatures: [...(subgroups ? ["subgroups"] : []), ...(f16 ? ["shader-f16"] : [])],
  });
  const failures = [];
  for (const {label, code, entryPoint, needsSubgroups, needsF16} of modules) {
    if ((needsSubgroups && !subgroups) || (needsF16 && !f16)) continue;
    device.pushErrorScope("validation");
    const module = device.createShaderModule({label, code});
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error").map((m) => m.message);
    try {
      await device.createComputePipelineAsync({layout: "auto", compute: {module, entryPoint}});
    } catch (error) {
      errors.push(String(error));
    }
    const scoped = await device.popErrorScope();
    if (scoped) errors.push(scoped.message);
    if (errors.length) failures.push(`${label}: ${errors.join("; ")}`);
  }
  return {subgroups, f16, failures};
}
"""


# A weight format is one WGSL file defining `weight_group`, called alike by every kernel that
# reads weights. So every kernel and variant compiles with these formats (float weights and
# the decoders' default), and every format once per kind of variant (plain, rows, f16, with
# and without subgroups): the rest would compile the same code again, at minutes of CI time.
EVERY_KERNEL_FORMATS = ("F32", "Q4_1")


def every_module() -> list[dict[str, object]]:
    """Every kernel and whole variant (`rows`, `f16`), in every subgroup variant."""
    modules = []
    probed: set[tuple[str, bool]] = set()  # kinds of variant compiled in every format
    for kernel in KERNELS.values():
        variants = [("plain", kernel), ("rows", kernel.rows), ("f16", kernel.f16)]
        for kind, spec in [(kind, spec) for kind, spec in variants if spec]:
            for subgroups in (False, True) if spec.subgroups else (False,):
                formats: tuple[str | None, ...] = (None,)
                if spec.reads_weights:
                    every = (kind, subgroups) not in probed
                    probed.add((kind, subgroups))
                    formats = WEIGHT_FORMATS if every else EVERY_KERNEL_FORMATS
                modules += [module(spec, f, subgroups, kind == "f16") for f in formats]
    return modules


def module(spec, weight_format: str | None, subgroups: bool, f16: bool) -> dict[str, object]:
    return {
        "label": f"{spec.entry(subgroups)}{'-f16' if f16 else ''}-{weight_format}",
        "code": spec.source(weight_format, subgroups),
        "entryPoint": spec.entry(subgroups),
        "needsSubgroups": subgroups,
        "needsF16": f16,
    }


def test_every_kernel_compiles_in_chromium(page, static_server, tmp_path):
    page.goto(static_server(tmp_path))  # WebGPU needs a secure context such as localhost
    result = page.evaluate(COMPILE_ALL, every_module())
    assert result["failures"] == []
    assert result["subgroups"], "SwiftShader offers subgroups: the variant must be checked too"
