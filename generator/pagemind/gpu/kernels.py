"""The registry of WGSL kernels: what a program compiler needs to schedule each one.

A kernel's WGSL source is the concatenation of its files (WGSL has no includes; the browser
runtime concatenates the same files). Kernels that read weights take one
`weights_<format>.wgsl` in the WEIGHTS slot, which decodes that GGUF block layout in the
kernel. Workgroup counts are expressions over the uniform fields, using `ceil` and
+ - * /, so the browser can evaluate them as JavaScript and Python the same way.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import CodeType
from typing import Literal

from pagemind.models.tensors import FORMATS
from pagemind.resources import resource_dir

WEIGHTS = "{weights}"
WEIGHT_FORMATS = FORMATS  # each has its decoder, weights_<format>.wgsl
MAX_WORKGROUPS_PER_DIMENSION = 65535  # WebGPU's default limit
MAX_TOP_K = 64
TOP_K_LIST_LENGTH = 1024  # LIST_LENGTH in top_k.wgsl: the most logits a top_k_lists list holds
ATTENTION_MAX_KEYS = 2048  # MAX_KEYS in attention.wgsl: the scores live in workgroup memory
ATTENTION_MAX_HEAD_DIM = 256  # one thread per dimension of the query

Access = Literal["read", "read_write", "uniform"]
UniformType = Literal["u32", "f32"]


@dataclass(frozen=True)
class Binding:
    name: str
    slot: int
    access: Access


@dataclass(frozen=True)
class SubgroupVariant:
    """Entry point and file (opening with `enable subgroups;`) used when the adapter has them;
    `entry_file`, where given, goes after the kernel's own files and declares the entry
    point."""

    file: str
    entry_point: str
    entry_file: str | None = None


@dataclass(frozen=True)
class KernelSpec:
    """One entry point: its source files, bindings (group 0, only those the entry point uses,
    so pipelines take WebGPU's automatic layout), uniform struct `Params` (u32/f32 scalars
    in declaration order), workgroup size and workgroup-count expressions."""

    name: str
    files: tuple[str, ...]
    entry_point: str
    bindings: tuple[Binding, ...]
    uniforms: tuple[tuple[str, UniformType], ...]
    workgroup_size: int
    workgroups: tuple[str, str, str]
    reads_weights: bool = False
    subgroups: SubgroupVariant | None = None
    # The barrier-free variant picked on CPU adapters (SwiftShader, lavapipe), whole in itself.
    rows: KernelSpec | None = None
    # The variant picked on other adapters with the `shader-f16` feature, whole in itself.
    f16: KernelSpec | None = None
    # Uniforms a dispatch may leave out: the value that keeps the kernel's plain behaviour
    # (no sliding window, an embedding scale of 1), or one the entry point does not read.
    defaults: tuple[tuple[str, float], ...] = ()

    def module_files(self, weight_format: str | None = None, subgroups: bool = False) -> list[str]:
        """The files whose concatenation is the WGSL module for this format and variant."""
        if self.reads_weights != (weight_format is not None):
            raise ValueError(f"kernel {self.name}: weight format {weight_format!r} does not fit")
        if weight_format is not None and weight_format not in WEIGHT_FORMATS:
            raise ValueError(f"kernel {self.name}: no WGSL decoder for {weight_format} weights")
        files = list(self.files)
        if weight_format is not None:
            files[files.index(WEIGHTS)] = f"weights_{weight_format.lower()}.wgsl"
        if subgroups and self.subgroups is not None:
            files.insert(0, self.subgroups.file)
            files += [self.subgroups.entry_file] if self.subgroups.entry_file else []
        return files

    def source(
        self,
        weight_format: str | None = None,
        subgroups: bool = False,
        shader_dir: Path | None = None,
    ) -> str:
        """The WGSL module for this kernel, weight format and variant, from `shader_dir`
        (default: the shaders that ship with pagemind)."""
        shaders = shader_dir or resource_dir("shaders")
        return "\n".join(
            (shaders / name).read_text(encoding="utf-8")
            for name in self.module_files(weight_format, subgroups)
        )

    def entry(self, subgroups: bool = False) -> str:
        return self.subgroups.entry_point if subgroups and self.subgroups else self.entry_point

    def workgroup_count(self, uniforms: Mapping[str, float]) -> tuple[int, int, int]:
        counts = tuple(int(evaluate(expression, uniforms)) for expression in self.workgroups)
        if max(counts) > MAX_WORKGROUPS_PER_DIMENSION:
            raise ValueError(
                f"kernel {self.name}: {counts} workgroups exceed WebGPU's "
                f"{MAX_WORKGROUPS_PER_DIMENSION} per dimension; split the dispatch"
            )
        return counts

    def pack_uniforms(self, values: Mapping[str, float]) -> bytes:
        """The uniform struct's bytes: scalars in declaration order, padded to 16 bytes."""
        values = {**dict(self.defaults), **values}
        missing = [field for field, _ in self.uniforms if field not in values]
        if missing:
            raise ValueError(f"kernel {self.name}: uniforms {missing} not given")
        codes = "".join("I" if kind == "u32" else "f" for _, kind in self.uniforms)
        packed = struct.pack("<" + codes, *(values[field] for field, _ in self.uniforms))
        return packed + bytes(-len(packed) % 16)


def top_k_list_count(n: int) -> int:
    """How many lists top_k_lists takes n values in, writing k candidates of each for top_k."""
    return math.ceil(n / TOP_K_LIST_LENGTH)


def check_head_dim(head_dim: int) -> None:
    """Attention takes one thread per query dimension (plain) and vec4s of it (`rows`)."""
    if head_dim > ATTENTION_MAX_HEAD_DIM or head_dim % 4:
        raise ValueError(
            f"the attention kernels take heads of at most {ATTENTION_MAX_HEAD_DIM} "
            f"dimensions, a multiple of 4, not {head_dim}"
        )


def evaluate(expression: str, variables: Mapping[str, float]) -> float:
    """Value of an expression over `variables` with + - * / and ceil (valid JavaScript too).

    Expressions come from this registry and from compiled programs, never from authors."""
    return eval(_compiled(expression), {"__builtins__": {}, "ceil": math.ceil}, dict(variables))


@functools.cache
def _compiled(expression: str) -> CodeType:
    return compile(expression, "<workgroup expression>", "eval")


def _bindings(*names_and_access: tuple[str, Access]) -> tuple[Binding, ...]:
    return tuple(
        Binding(name, slot, access) for slot, (name, access) in enumerate(names_and_access)
    )


def _only(bindings: tuple[Binding, ...], *names: str) -> tuple[Binding, ...]:
    return tuple(binding for binding in bindings if binding.name in names)


_MATRIX_BINDINGS = _bindings(
    ("weights", "read"), ("x", "read"), ("out", "read_write"), ("params", "uniform")
)
_MATVEC_NORM_BINDINGS = _bindings(
    ("weights", "read"),
    ("x", "read"),
    ("out", "read_write"),
    ("params", "uniform"),
    ("norm_weight", "read"),
)
# The adapter of a `_lora` matvec (lora.wgsl): slots after matvec_norm's norm_weight.
_LORA_BINDINGS = (Binding("lora_a", 5, "read"), Binding("lora_b", 6, "read"))
LORA_MAX_RANK = 256  # LORA_MAX_RANK in lora.wgsl: t = A x lives in workgroup memory
_NORM_BINDINGS = _bindings(
    ("x", "read"),
    ("out", "read_write"),
    ("params", "uniform"),
    ("weight", "read"),
    ("bias", "read"),
)
_ELEMENTWISE_BINDINGS = _bindings(
    ("a", "read"), ("out", "read_write"), ("params", "uniform"), ("b", "read")
)
_ATTENTION_BINDINGS = _bindings(
    ("q", "read"),
    ("k", "read"),
    ("v", "read"),
    ("out", "read_write"),
    ("params", "uniform"),
    ("spans", "read"),
)
_ROPE_BINDINGS = _bindings(
    ("qkv", "read"),
    ("q", "read_write"),
    ("k_cache", "read_write"),
    ("v_cache", "read_write"),
    ("params", "uniform"),
    ("freq_factors", "read"),
    ("q_norm", "read"),
    ("k_norm", "read"),
)
_ROW_WORKGROUPS = ("n_rows", "1", "1")
_ELEMENTWISE_WORKGROUPS = ("ceil(n / 256)", "1", "1")


def _matvec(entry_point: str, norm: bool = False) -> KernelSpec:
    """One workgroup per 4 output rows with a reduction; the `rows` variant one invocation
    per output row. `matvec_swiglu` reads 2 * n_out weight rows (gate, then up). With `norm`
    (kernel `<entry_point>_norm...`), the input file normalizes x: the same entry points
    compute W rms_norm(x, norm_weight, eps)."""
    name = entry_point.replace("matvec", "matvec_norm") if norm else entry_point
    input_file = "matvec_input_norm.wgsl" if norm else "matvec_input.wgsl"
    common = ("weights_common.wgsl", WEIGHTS, "activations.wgsl", input_file)
    uniforms: tuple[tuple[str, UniformType], ...] = (("n_in", "u32"), ("n_out", "u32"))
    plain = KernelSpec(
        name=name,
        files=(*common, "matvec.wgsl"),
        entry_point=entry_point,
        bindings=_MATVEC_NORM_BINDINGS if norm else _MATRIX_BINDINGS,
        uniforms=(*uniforms, ("eps", "f32")) if norm else uniforms,
        workgroup_size=256,
        workgroups=("ceil(n_out / 4)", "1", "1"),
        reads_weights=True,
        subgroups=SubgroupVariant("matvec_subgroups.wgsl", f"{entry_point}_subgroups"),
    )
    return _with_rows(plain, (*common, "matvec_rows.wgsl"), 64, ("ceil(n_out / 64)", "1", "1"))


def _with_lora(matvec: KernelSpec) -> KernelSpec:
    """Kernel `<matvec>_lora`: the product plus a LoRA adapter's B (A x) in the same dispatch
    (lora.wgsl, ranks up to LORA_MAX_RANK), in every variant of `matvec`: entry points
    `<entry point>_lora...` in matvec_lora.wgsl, placed after the variant's own file."""
    assert matvec.rows is not None and matvec.subgroups is not None

    def adapted(spec: KernelSpec, entry_file: str) -> KernelSpec:
        *common, own = spec.files
        return replace(
            spec,
            name=f"{matvec.name}_lora",
            files=(*common, "lora.wgsl", own, entry_file),
            entry_point=spec.entry_point.replace(matvec.entry_point, f"{matvec.entry_point}_lora"),
            bindings=spec.bindings + _LORA_BINDINGS,
        )

    entry_point = f"{matvec.entry_point}_lora"
    subgroups = SubgroupVariant(
        matvec.subgroups.file, f"{entry_point}_subgroups", "matvec_lora_subgroups.wgsl"
    )
    rows = adapted(matvec.rows, "matvec_lora_rows.wgsl")
    return replace(adapted(matvec, "matvec_lora.wgsl"), subgroups=subgroups, rows=rows)


def _with_rows(
    plain: KernelSpec,
    files: tuple[str, ...],
    workgroup_size: int,
    workgroups: tuple[str, str, str],
    entry_point: str | None = None,
) -> KernelSpec:
    """`plain` with its barrier-free `rows` variant: entry point `<plain>_rows` (or
    `entry_point`) in `files`."""
    rows = replace(
        plain,
        files=files,
        entry_point=entry_point or f"{plain.entry_point}_rows",
        workgroup_size=workgroup_size,
        workgroups=workgroups,
        subgroups=None,
        f16=None,
    )
    return replace(plain, rows=rows)


def _matmul(entry_point: str) -> KernelSpec:
    """A register-blocked tiled product, 64 tokens x 64 rows per workgroup, its tiles in f32 or
    (the `f16` variant) f16; the `rows` variant one invocation per tile of 4 rows x 8 tokens."""
    plain = KernelSpec(
        name=entry_point,
        files=("matmul_f32.wgsl", "weights_common.wgsl", WEIGHTS, "matmul.wgsl"),
        entry_point=entry_point,
        bindings=_MATRIX_BINDINGS,
        uniforms=(("n_in", "u32"), ("n_out", "u32"), ("n_tokens", "u32")),
        workgroup_size=256,
        workgroups=("ceil(n_out / 64)", "ceil(n_tokens / 64)", "1"),
        reads_weights=True,
    )
    f16 = replace(plain, files=("matmul_f16.wgsl", *plain.files[1:]))
    files = ("weights_common.wgsl", WEIGHTS, "matmul_rows.wgsl")
    return _with_rows(
        replace(plain, f16=f16), files, 64, ("ceil(n_out / 256)", "ceil(n_tokens / 8)", "1")
    )


def _norm(entry_point: str, *inputs: str) -> KernelSpec:
    """256 threads per row; the `rows` variant the same entry point with reduce_single.wgsl,
    one thread per row."""
    plain = KernelSpec(
        name=entry_point,
        files=("reduce.wgsl", "norms.wgsl"),
        entry_point=entry_point,
        bindings=_only(_NORM_BINDINGS, "x", "out", "params", *inputs),
        uniforms=(("n_rows", "u32"), ("n", "u32"), ("eps", "f32")),
        workgroup_size=256,
        workgroups=_ROW_WORKGROUPS,
    )
    files = ("reduce_single.wgsl", "norms.wgsl")
    return _with_rows(plain, files, 1, _ROW_WORKGROUPS, entry_point=entry_point)


def _rope_to_cache(entry_point: str) -> KernelSpec:
    """RoPE from the fused qkv rows: q into `q`, k into its KV-cache rows, with v copied
    beside it; `_scaled` divides the frequencies by `freq_factors`, `_normed` normalizes
    each head of q and k first (weights `q_norm`, `k_norm`, uniform `eps`)."""
    normed = entry_point.endswith("_normed")
    extra = ("freq_factors",) if entry_point.endswith("_scaled") else ()
    extra += ("q_norm", "k_norm") if normed else ()
    defaults = () if normed else (("eps", 0.0),)  # only the head norms read eps
    return KernelSpec(
        name=entry_point,
        files=("rope.wgsl",),
        entry_point=entry_point,
        bindings=_only(_ROPE_BINDINGS, "qkv", "q", "k_cache", "v_cache", "params", *extra),
        uniforms=(
            ("n_tokens", "u32"),
            ("n_heads", "u32"),
            ("n_kv_heads", "u32"),
            ("head_dim", "u32"),
            ("position", "u32"),
            ("theta", "f32"),
            ("eps", "f32"),
        ),
        workgroup_size=64,
        workgroups=("ceil(n_heads * head_dim / 2 / 64)", "n_tokens", "1"),
        defaults=defaults,
    )


def _elementwise(entry_point: str, binary: bool) -> KernelSpec:
    names = ("a", "out", "params", "b") if binary else ("a", "out", "params")
    return KernelSpec(
        name=entry_point,
        files=("activations.wgsl", "elementwise.wgsl"),
        entry_point=entry_point,
        bindings=_only(_ELEMENTWISE_BINDINGS, *names),
        uniforms=(("n", "u32"), ("row_len", "u32")),
        workgroup_size=256,
        workgroups=_ELEMENTWISE_WORKGROUPS,
    )


def _attention(entry_point: str) -> KernelSpec:
    """`attention` over one sequence of keys; `attention_packed` over packed sequences, each
    query seeing its own sequence's keys (the `spans` binding). The `rows` variant runs one
    invocation per (head, query) with an online softmax."""
    names = ("q", "k", "v", "out", "params") + (
        ("spans",) if entry_point.endswith("packed") else ()
    )
    plain = KernelSpec(
        name=entry_point,
        files=("reduce.wgsl", "attention.wgsl"),
        entry_point=entry_point,
        bindings=_only(_ATTENTION_BINDINGS, *names),
        uniforms=(
            ("n_tokens", "u32"),
            ("n_heads", "u32"),
            ("n_kv_heads", "u32"),
            ("head_dim", "u32"),
            ("kv_len", "u32"),
            ("causal", "u32"),
            ("causal_offset", "u32"),
            ("window", "u32"),
        ),
        workgroup_size=256,
        workgroups=("n_heads", "n_tokens", "1"),
        defaults=(("window", 0),),  # 0: no sliding window
    )
    files = (*plain.files, "attention_rows.wgsl")
    return _with_rows(plain, files, 16, ("n_heads", "ceil(n_tokens / 16)", "1"))


def _top_k_stage(
    entry_point: str,
    stage_file: str,
    bindings: tuple[Binding, ...],
    workgroups: tuple[str, str, str],
    rows_workgroups: tuple[str, str, str] = ("1", "1", "1"),
    rows_workgroup_size: int = 1,
) -> KernelSpec:
    """A stage of top_k (top_k.wgsl): a workgroup of 256 per list it selects from; the `rows`
    variant one invocation per list."""
    plain = KernelSpec(
        name=entry_point,
        files=("top_k.wgsl", stage_file),
        entry_point=entry_point,
        bindings=bindings,
        uniforms=(("n", "u32"), ("k", "u32")),
        workgroup_size=256,
        workgroups=workgroups,
    )
    return _with_rows(plain, plain.files, rows_workgroup_size, rows_workgroups)


_SPECS = (
    _matvec("matvec"),
    _matvec("matvec_accumulate"),
    _matvec("matvec_swiglu"),
    _matvec("matvec", norm=True),
    _matvec("matvec_swiglu", norm=True),
    *(
        _with_lora(_matvec(entry_point, norm))
        for entry_point, norm in (
            ("matvec", False),
            ("matvec_accumulate", False),
            ("matvec", True),
            ("matvec_swiglu", True),
        )
    ),
    _matmul("matmul"),
    _matmul("matmul_accumulate"),
    _norm("rms_norm", "weight"),
    _norm("rms_norm_accumulate", "weight"),
    _norm("layer_norm", "weight", "bias"),
    _norm("l2_normalize"),
    KernelSpec(
        name="softmax",
        files=("reduce.wgsl", "softmax.wgsl"),
        entry_point="softmax",
        bindings=_bindings(("x", "read"), ("out", "read_write"), ("params", "uniform")),
        uniforms=(("n_rows", "u32"), ("n", "u32")),
        workgroup_size=256,
        workgroups=_ROW_WORKGROUPS,
    ),
    *(
        _rope_to_cache(f"rope_to_cache_{mode}{variant}")
        for mode in ("interleaved", "neox")
        for variant in ("", "_scaled", "_normed")
    ),
    _attention("attention"),
    _attention("attention_packed"),
    _elementwise("swiglu", binary=False),
    _elementwise("geglu", binary=False),
    _elementwise("gelu", binary=False),
    _elementwise("add", binary=True),
    _elementwise("add_bias", binary=True),
    KernelSpec(
        name="mean_pool",
        files=("pooling.wgsl",),
        entry_point="mean_pool",
        bindings=_bindings(
            ("hidden", "read"), ("mask", "read"), ("out", "read_write"), ("params", "uniform")
        ),
        uniforms=(("n_tokens", "u32"), ("n", "u32")),
        workgroup_size=64,
        workgroups=("ceil(n / 64)", "1", "1"),
    ),
    KernelSpec(
        name="pool_sequences",
        files=("pool_sequences.wgsl",),
        entry_point="pool_sequences",
        bindings=_bindings(
            ("hidden", "read"), ("spans", "read"), ("out", "read_write"), ("params", "uniform")
        ),
        uniforms=(("n_sequences", "u32"), ("n", "u32"), ("first_token_only", "u32")),
        workgroup_size=64,
        workgroups=("ceil(n / 64)", "n_sequences", "1"),
    ),
    KernelSpec(
        name="embedding",
        files=("weights_common.wgsl", WEIGHTS, "embedding.wgsl"),
        entry_point="embedding",
        bindings=_bindings(
            ("weights", "read"), ("ids", "read"), ("out", "read_write"), ("params", "uniform")
        ),
        uniforms=(("n_embd", "u32"), ("n_tokens", "u32"), ("scale", "f32")),
        workgroup_size=64,
        workgroups=("ceil(n_embd / 8 / 64)", "n_tokens", "1"),
        reads_weights=True,
        defaults=(("scale", 1.0),),
    ),
    KernelSpec(
        name="copy_rows",
        files=("copy_rows.wgsl",),
        entry_point="copy_rows",
        bindings=_bindings(("from_rows", "read"), ("to_rows", "read_write"), ("params", "uniform")),
        uniforms=(
            ("n_rows", "u32"),
            ("row_len", "u32"),
            ("source_row", "u32"),
            ("target_row", "u32"),
        ),
        workgroup_size=256,
        workgroups=("ceil(n_rows * row_len / 256)", "1", "1"),
    ),
    _top_k_stage(
        "top_k_lists",
        "top_k_lists.wgsl",
        _bindings(
            ("x", "read"),
            ("candidate_values", "read_write"),
            ("candidate_indices", "read_write"),
            ("params", "uniform"),
        ),
        workgroups=(f"ceil(n / {TOP_K_LIST_LENGTH})", "1", "1"),
        rows_workgroups=(f"ceil(n / {TOP_K_LIST_LENGTH} / 8)", "1", "1"),
        rows_workgroup_size=8,
    ),
    _top_k_stage(
        "top_k",
        "top_k_merge.wgsl",
        _bindings(
            ("candidate_values", "read"),
            ("candidate_indices", "read"),
            ("indices", "read_write"),
            ("values", "read_write"),
            ("params", "uniform"),
        ),
        workgroups=("1", "1", "1"),
    ),
    KernelSpec(
        name="add_logit_bias",
        files=("logit_bias.wgsl",),
        entry_point="add_logit_bias",
        # In place: WebGPU refuses one buffer bound twice where a binding writes it.
        bindings=_bindings(("logits", "read_write"), ("bias", "read"), ("params", "uniform")),
        uniforms=(("n", "u32"),),
        workgroup_size=256,
        workgroups=_ELEMENTWISE_WORKGROUPS,
    ),
    KernelSpec(
        name="copy_span_bias",
        files=("copy_span_bias.wgsl",),
        entry_point="copy_span_bias",
        bindings=_bindings(
            ("source", "read"),
            ("tail", "read_write"),
            ("chosen", "read"),
            ("logits", "read_write"),
            ("params", "uniform"),
        ),
        uniforms=(("answer_token", "u32"),),  # 0: prefill, the answer starts; 1: decode
        workgroup_size=256,
        workgroups=("1", "1", "1"),  # the longest match is over the whole source
    ),
    KernelSpec(
        name="penalize_repetition",
        files=("penalize_repetition.wgsl",),
        entry_point="penalize_repetition",
        bindings=_bindings(("history", "read"), ("logits", "read_write"), ("params", "uniform")),
        uniforms=(("n_history", "u32"), ("penalty", "f32")),
        workgroup_size=64,
        # At least one workgroup: Dawn on SwiftShader fails on a dispatch of none.
        workgroups=("ceil((n_history + 1) / 64)", "1", "1"),
    ),
    KernelSpec(
        name="sample",
        files=("sample.wgsl",),
        entry_point="sample",
        bindings=_bindings(
            ("indices", "read_write"),
            ("values", "read"),
            ("chosen_history", "read_write"),
            ("params", "uniform"),
        ),
        uniforms=(
            ("k", "u32"),
            ("temperature", "f32"),
            ("top_p", "f32"),
            ("random", "f32"),
            ("n_history", "u32"),
        ),
        workgroup_size=1,
        workgroups=("1", "1", "1"),
    ),
)

KERNELS: dict[str, KernelSpec] = {spec.name: spec for spec in _SPECS}
