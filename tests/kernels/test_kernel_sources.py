"""Every kernel compiles in every weight format and variant, and its spec matches its WGSL."""

from __future__ import annotations

import re

import pytest
from pagemind.gpu.kernels import (
    ATTENTION_MAX_HEAD_DIM,
    ATTENTION_MAX_KEYS,
    KERNELS,
    MAX_TOP_K,
    TOP_K_LIST_LENGTH,
    WEIGHT_FORMATS,
    WEIGHTS,
    KernelSpec,
    check_head_dim,
)
from pagemind.resources import resource_dir

pytestmark = pytest.mark.gpu


def _builds(spec: KernelSpec) -> list[str | None]:
    return list(WEIGHT_FORMATS) if spec.reads_weights else [None]


def _variants(spec: KernelSpec) -> list[KernelSpec]:
    """The spec and its whole variants (`rows`, `f16`)."""
    return [spec, *(variant for variant in (spec.rows, spec.f16) if variant)]


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles_in_every_format_and_variant(name, variant_runner):
    spec = variant_runner.variant(name)
    for weight_format in _builds(spec):
        variant_runner.pipeline(spec, weight_format)


@pytest.mark.parametrize("name", sorted(name for name, spec in KERNELS.items() if spec.f16))
def test_f16_variant_compiles_in_every_format(name, f16_runner):
    spec = f16_runner.variant(name)
    assert spec is KERNELS[name].f16
    for weight_format in _builds(spec):
        f16_runner.pipeline(spec, weight_format)


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        (name, variant)
        for name in sorted(KERNELS)
        for variant in ("plain", "rows", "f16")
        if variant == "plain" or getattr(KERNELS[name], variant)
    ],
)
def test_spec_matches_the_wgsl_declarations(name, variant):
    spec = KERNELS[name] if variant == "plain" else getattr(KERNELS[name], variant)
    source = spec.source("F32" if spec.reads_weights else None)
    struct_body = re.search(r"struct Params \{(.*?)\}", source, re.S).group(1)
    declared = re.findall(r"(\w+): (u32|f32)", struct_body)
    assert tuple(declared) == spec.uniforms
    for binding in spec.bindings:
        access = {
            "uniform": "uniform",
            "read": "storage, read",
            "read_write": "storage, read_write",
        }
        pattern = rf"@binding\({binding.slot}\) var<{access[binding.access]}> {binding.name}:"
        assert re.search(pattern, source), f"{name}: {binding} not declared as such"
    size = re.search(rf"@workgroup_size\((\w+)\)\s*fn {spec.entry_point}\(", source).group(1)
    if not size.isdigit():  # a constant of the module
        size = re.search(rf"const {size}: u32 = (\d+)u;", source).group(1)
    assert int(size) == spec.workgroup_size


def test_every_shader_file_belongs_to_a_kernel():
    specs = [variant for spec in KERNELS.values() for variant in _variants(spec)]
    used = {f for spec in specs for f in spec.files if f != WEIGHTS}
    used |= {spec.subgroups.file for spec in specs if spec.subgroups}
    used |= {spec.subgroups.entry_file for spec in specs if spec.subgroups} - {None}
    used |= {f"weights_{weight_format.lower()}.wgsl" for weight_format in WEIGHT_FORMATS}
    assert {path.name for path in resource_dir("shaders").glob("*.wgsl")} == used


def test_python_limits_match_the_shaders():
    attention = (resource_dir("shaders") / "attention.wgsl").read_text()
    assert f"const MAX_KEYS: u32 = {ATTENTION_MAX_KEYS}u;" in attention
    assert "const MAX_HEAD_DIM: u32 = REDUCE_THREADS;" in attention
    assert KERNELS["attention"].workgroup_size == ATTENTION_MAX_HEAD_DIM
    top_k = (resource_dir("shaders") / "top_k.wgsl").read_text()
    assert f"const LIST_LENGTH: u32 = {TOP_K_LIST_LENGTH}u;" in top_k
    assert f"const MAX_K: u32 = {MAX_TOP_K}u;" in top_k


def test_oversized_dispatches_are_refused_not_truncated():
    with pytest.raises(ValueError, match="65535"):
        KERNELS["gelu"].workgroup_count({"n": 65536 * 256, "row_len": 1})


@pytest.mark.parametrize("head_dim", [66, 260])
def test_heads_the_attention_kernels_cannot_take_are_refused(head_dim):
    with pytest.raises(ValueError, match="at most 256 dimensions, a multiple of 4"):
        check_head_dim(head_dim)
