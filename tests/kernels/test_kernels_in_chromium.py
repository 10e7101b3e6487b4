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


def every_module() -> list[dict[str, object]]:
    """Every kernel and whole variant (`rows`, `f16`) in every format and subgroup variant."""
    modules = []
    specs = [
        (variant, variant is spec.f16)
        for spec in KERNELS.values()
        for variant in (spec, spec.rows, spec.f16)
        if variant
    ]
    for spec, f16 in specs:
        formats = WEIGHT_FORMATS if spec.reads_weights else (None,)
        variants = (False, True) if spec.subgroups else (False,)
        for weight_format in formats:
            for subgroups in variants:
                modules.append(
                    {
                        "label": f"{spec.entry(subgroups)}{'-f16' if f16 else ''}-{weight_format}",
                        "code": spec.source(weight_format, subgroups),
                        "entryPoint": spec.entry(subgroups),
                        "needsSubgroups": subgroups,
                        "needsF16": f16,
                    }
                )
    return modules


def test_every_kernel_compiles_in_chromium(page, static_server, tmp_path):
    page.goto(static_server(tmp_path))  # WebGPU needs a secure context such as localhost
    result = page.evaluate(COMPILE_ALL, every_module())
    assert result["failures"] == []
    assert result["subgroups"], "SwiftShader offers subgroups: the variant must be checked too"
