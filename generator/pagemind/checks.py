"""The pre-build GPU checks, on wgpu-py (a GPU, or Mesa's lavapipe without one).

In order: every shader compiles (each kernel x variant the adapter offers, in each weight
format the site's models use);
each kernel matches numpy on random inputs at the sizes the site's programs dispatch it
with; each model program matches its numpy reference (the generator's logits over a prompt
and its greedy tokens step by step, alone and with each of the site's adapters; the
embedder's vectors). Each check reports one line
with its error figure; the first failure raises a PagemindError naming the kernel, or the
phase and step where the program left the reference.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from pagemind import __version__
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.bundle import PreparedPackage
from pagemind.config import SiteConfig
from pagemind.errors import PagemindError
from pagemind.gpu.compare import relative_error
from pagemind.gpu.compile_model import compile_program
from pagemind.gpu.device import GpuDevice, open_device
from pagemind.gpu.embedder_program import run_embedder
from pagemind.gpu.kernel_checks import check_kernel, kernel_cases, tolerance
from pagemind.gpu.kernels import KERNELS, WEIGHT_FORMATS, WEIGHTS, KernelSpec
from pagemind.gpu.program import Program, ProgramRunner
from pagemind.gpu.runner import KernelRunner
from pagemind.models.adapters import Adapter, adapter_ranks
from pagemind.models.bert import Bert
from pagemind.models.chat_template import assemble
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.llama import KVCache, Llama
from pagemind.models.package import read_package
from pagemind.models.safetensors_source import BertModel
from pagemind.models.tensors import QuantTensor
from pagemind.resources import resource_dir

log = logging.getLogger("pagemind")

GENERATED_TOKENS = 32
# Logits relative to their scale after the whole f32 network (SmolLM2-135M: about 2e-6).
LOGITS_TOLERANCE = 1e-4
MIN_COSINE = 0.999
CHECK_QUESTION = "How do I preview my documentation site, and where does its assistant run?"
CHECK_TEXTS = (
    "How do I preview my site while I edit it?",
    "Search",
    "The build bundles the model shards, the WebGPU runtime and a vector index as static "
    "files, so any static host can serve the site and the reader's own GPU answers.",
)
# Phase variables for the kernel checks: small, with cached positions before the prompt.
KERNEL_CHECK_VARIABLES = {
    "prefill": {"n_tokens": 7, "position": 5},
    "decode": {"position": 12},
    "sample": {
        "n_history": 9,
        "repetition_penalty": 1.1,
        "candidates": 40,
        "temperature": 0.2,
        "top_p": 0.9,
        "random": 0.7,
    },
    "embed": {"n_tokens": 19, "n_sequences": 3},
}
_PROGRAM_FIX = "the kernels passed, so suspect the program or the packaged tensors; rebuild"
CACHE_FILE = "checks.json"  # in the site's cache folder

Report = Callable[[str], None]
ModelT = TypeVar("ModelT", GGUFModel, BertModel)


@dataclass(frozen=True)
class CheckedAdapter:
    """A site's adapter: its reference (from its source) and the packaged tensors the
    program binds."""

    name: str
    reference: Adapter
    tensors: Mapping[str, QuantTensor]


@dataclass(frozen=True)
class CheckedModel:
    """A model, the program the site ships for it, and the tensors that program binds (the
    packaged bytes; by default the model's own)."""

    name: str
    model: GGUFModel | BertModel
    program: Program
    tensors: Mapping[str, QuantTensor] | None = None
    adapters: tuple[CheckedAdapter, ...] = ()

    @property
    def gpu_tensors(self) -> Mapping[str, QuantTensor]:
        return self.model.tensors if self.tensors is None else self.tensors


def check_site(
    config: SiteConfig,
    packages: Sequence[PreparedPackage],
    *,
    shader_dir: Path | None = None,
    reuse_pass: bool = True,
    generated_tokens: int = GENERATED_TOKENS,
    report: Report = log.info,
) -> None:
    """Check the site's packaged models on this machine's adapter. With `reuse_pass`, a pass
    with the same packages, shaders, adapter and pagemind version is not run again."""
    gpu = open_device()
    report(f"adapter: {gpu.describe()}")
    key = checks_key(gpu, packages, shader_dir, generated_tokens)
    cache_dir = config.cache_dir
    if reuse_pass and passed_before(cache_dir, key):
        report("checks skipped: they passed with these models, shaders and adapter before")
        return
    models = [_packaged_model(package) for package in packages]
    run_checks(gpu, models, shader_dir=shader_dir, generated_tokens=generated_tokens, report=report)
    remember_pass(cache_dir, key)


def run_checks(
    gpu: GpuDevice,
    models: Sequence[CheckedModel],
    *,
    shader_dir: Path | None = None,
    generated_tokens: int = GENERATED_TOKENS,
    report: Report = log.info,
) -> None:
    """Every check, in order; raises PagemindError at the first failure."""
    runners = variant_runners(gpu, shader_dir)
    programs = [checked.program for checked in models]
    check_shaders(runners, weight_formats(programs), report)
    check_kernels(runners, programs, report)
    program_runner = [runner for runner in runners if not runner.use_f16][-1]
    for checked in models:
        if isinstance(checked.model, GGUFModel):
            for adapter in (None, *checked.adapters):
                check_generator(program_runner, checked, generated_tokens, report, adapter)
        else:
            check_embedder(program_runner, checked, report)


def variant_runners(gpu: GpuDevice, shader_dir: Path | None) -> list[KernelRunner]:
    """A runner per variant the adapter offers. The f32 ones first, the last of them the one a
    browser would pick but for `f16` variants; the programs are checked on it (their logits
    limit is for f32). Then, where a browser would take them (shader-f16, not a CPU adapter),
    one for the f16 variants, whose kernels are checked with their own tolerance."""
    variants = (False, True) if gpu.has_subgroups else (False,)
    runners = [KernelRunner(gpu, subgroups, shader_dir, use_f16=False) for subgroups in variants]
    if gpu.has_f16 and not gpu.is_cpu:
        runners.append(KernelRunner(gpu, False, shader_dir, use_f16=True))
    return runners


def _skipped(runner: KernelRunner, spec: KernelSpec) -> bool:
    """A variant's runner checks only the kernels that have that variant."""
    return (runner.use_subgroups and spec.subgroups is None) or (
        runner.use_f16 and spec.f16 is None
    )


def weight_formats(programs: Sequence[Program]) -> list[str]:
    """The weight formats the programs read: the only ones a browser compiles kernels for."""
    used = {
        step.weight_format
        for program in programs
        for steps in program.phases.values()
        for step in steps
    }
    return [weight_format for weight_format in WEIGHT_FORMATS if weight_format in used]


def check_shaders(runners: Sequence[KernelRunner], formats: Sequence[str], report: Report) -> None:
    modules = 0
    for runner in runners:
        for spec in KERNELS.values():
            if _skipped(runner, spec):
                continue
            variant = spec.f16 if runner.use_f16 else spec
            for weight_format in formats if variant.reads_weights else (None,):
                try:
                    runner.pipeline(variant, weight_format)
                except Exception as error:  # wgpu-py reports shader errors as several types
                    raise _shader_error(runner, variant, weight_format, error) from None
                modules += 1
    variants = ", ".join(_variant(runner) for runner in runners)
    report(f"ok  compile: {modules} shader modules ({variants})")


def check_kernels(
    runners: Sequence[KernelRunner], programs: Sequence[Program], report: Report
) -> None:
    cases = [case for program in programs for case in kernel_cases(program, KERNEL_CHECK_VARIABLES)]
    rng = np.random.default_rng(0)
    for runner in runners:
        for case in dict.fromkeys(cases):
            if _skipped(runner, KERNELS[case.kernel]):
                continue
            error = check_kernel(runner, case, rng)
            limit = tolerance(runner, case.kernel)
            line = f"kernel {case.label} [{_variant(runner)}]: error {error:.1e} (limit {limit:g})"
            if not error <= limit:
                raise PagemindError(
                    f"{line}: the kernel does not match numpy",
                    file=_kernel_file(runner, KERNELS[case.kernel]),
                    fix=_mismatch_fix(runner.gpu),
                )
            report("ok  " + line)


def _mismatch_fix(gpu: GpuDevice) -> str:
    if gpu.is_opengl:
        return (
            "wgpu-py runs on OpenGL here, whose driver may compile a correct kernel wrongly: "
            "install Vulkan drivers (apt-get install mesa-vulkan-drivers) and unset "
            "WGPU_BACKEND_TYPE, or skip the checks with --no-check"
        )
    return (
        "this adapter computes the kernel wrongly; fix the WGSL or report the adapter shown above"
    )


def check_generator(
    runner: KernelRunner,
    checked: CheckedModel,
    generated_tokens: int,
    report: Report,
    adapter: CheckedAdapter | None = None,
) -> None:
    """Prefill a chat prompt, then decode greedily from the GPU's own picks; each step's
    logits and pick must match the numpy reference's (with `adapter` on, if given)."""
    model = checked.model
    prompt = _prompt_ids(model)
    program = ProgramRunner(runner, checked.program, checked.gpu_tensors)
    program.use_adapter(adapter and adapter.tensors)
    reference, cache = Llama(model, adapter and adapter.reference), KVCache()
    name = checked.name + (f" with adapter {adapter.name!r}" if adapter else "")
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    step = _Step(program, reference.forward(prompt, cache)[-1])
    if adapter and not step.matches:
        raise step.divergence(checked, f"prefill of {len(prompt)} tokens with {name}")
    if not step.matches:
        layer = _first_diverging_layer(
            model, lambda truncated: _prefill_matches(runner, truncated, checked, prompt)
        )
        raise step.divergence(checked, f"prefill of {len(prompt)} tokens, {layer}")
    worst = step.error
    for generated in range(1, generated_tokens + 1):
        position = len(prompt) + generated - 1
        program.run("decode", {"position": position})
        step = _Step(program, reference.forward([step.token], cache)[0])
        if not step.matches:
            raise step.divergence(checked, f"decode step {generated} (position {position})")
        worst = max(worst, step.error)
    report(
        f"ok  {name}: {len(prompt)}-token prefill + {generated_tokens} greedy tokens "
        f"identical; logits error {worst:.1e} (limit {LOGITS_TOLERANCE:g})"
    )


def check_embedder(runner: KernelRunner, checked: CheckedModel, report: Report) -> None:
    cosines = _embedding_cosines(runner, checked.model, checked.program, checked.gpu_tensors)
    worst = int(np.argmin(cosines))
    line = f"{checked.name}: {len(cosines)} texts, lowest cosine {cosines[worst]:.6f}"
    if not cosines[worst] > MIN_COSINE:
        layer = _first_diverging_layer(
            checked.model,
            lambda cut: (
                min(_embedding_cosines(runner, cut, compile_program(cut), checked.gpu_tensors))
                > MIN_COSINE
            ),
        )
        raise PagemindError(
            f"{line} (text {worst + 1}) is not above {MIN_COSINE}: the embed program leaves "
            f"the numpy reference {layer}",
            fix=_PROGRAM_FIX,
        )
    report(f"ok  {line} (limit {MIN_COSINE})")


def checks_key(
    gpu: GpuDevice,
    packages: Sequence[PreparedPackage],
    shader_dir: Path | None,
    generated_tokens: int,
) -> str:
    """What a pass depends on: the packages (their file names hash their bytes), the shaders'
    bytes, the adapter, the length of the check and pagemind's version."""
    digest = hashlib.sha256()
    names = [
        name
        for package in packages
        for name in (package.manifest, package.program, *(a.manifest for a in package.adapters))
    ]
    for part in (__version__, gpu.describe(), str(generated_tokens), *names):
        digest.update(part.encode() + b"\0")
    for path in sorted((shader_dir or resource_dir("shaders")).glob("*.wgsl")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def passed_before(cache_dir: Path, key: str) -> bool:
    try:
        return json.loads((cache_dir / CACHE_FILE).read_text())["passed"] == key
    except (OSError, ValueError, KeyError):
        return False


def remember_pass(cache_dir: Path, key: str) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / CACHE_FILE).write_text(json.dumps({"passed": key}))


def _packaged_model(package: PreparedPackage) -> CheckedModel:
    """The reference reads the model's source; the GPU binds the packaged bytes."""
    model = package.load_source()
    _, tensors = read_package(package.manifest_path)
    references = package.load_adapters(model)
    adapters = tuple(
        CheckedAdapter(
            adapter.name,
            references[adapter.name],
            read_package(package.folder / adapter.manifest)[1],
        )
        for adapter in package.adapters
    )
    program = compile_program(model, adapter_ranks(list(references.values())))
    return CheckedModel(package.role, model, program, tensors, adapters)


class _Step:
    """The GPU's logits and greedy pick after a step, against the reference's logits."""

    def __init__(self, program: ProgramRunner, expected: np.ndarray) -> None:
        self.error = relative_error(program.read("logits")[: expected.size], expected)
        self.token = int(program.read("top_indices", np.uint32)[0])
        self.wanted = int(np.argmax(expected))

    @property
    def matches(self) -> bool:
        return self.error <= LOGITS_TOLERANCE and self.token == self.wanted

    def divergence(self, checked: CheckedModel, where: str) -> PagemindError:
        return PagemindError(
            f"{checked.name}: the program leaves the numpy reference at the {where}: logits "
            f"error {self.error:.1e} (limit {LOGITS_TOLERANCE:g}); greedy token {self.token}, "
            f"reference {self.wanted}",
            file=getattr(checked.model, "path", None),
            fix=_PROGRAM_FIX,
        )


def _prefill_matches(
    runner: KernelRunner, model: GGUFModel, checked: CheckedModel, prompt: list[int]
) -> bool:
    program = ProgramRunner(runner, compile_program(model), checked.gpu_tensors)
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    return _Step(program, Llama(model).forward(prompt, KVCache())[-1]).matches


def _embedding_cosines(
    runner: KernelRunner,
    model: BertModel,
    program: Program,
    tensors: Mapping[str, QuantTensor],
) -> np.ndarray:
    """Cosine of the program's and the reference's vector for each check text."""
    reference = Bert(model)
    sequences = reference.tokenize(CHECK_TEXTS)
    vectors = run_embedder(ProgramRunner(runner, program, tensors), sequences)
    return np.sum(vectors * reference.embed_token_ids(sequences), axis=1)


def _first_diverging_layer(model: ModelT, matches: Callable[[ModelT], bool]) -> str:
    """Where a diverging model first leaves the reference: the same model cut after fewer
    layers (program and reference alike) is run until the shortest diverging cut is found."""
    matching, diverging = -1, model.config.num_layers  # cut lengths known to match / diverge
    while diverging - matching > 1:
        middle = (matching + diverging) // 2
        cut = dataclasses.replace(
            model, config=dataclasses.replace(model.config, num_layers=middle)
        )
        if matches(cut):
            matching = middle
        else:
            diverging = middle
    if diverging == 0:
        return "before the first layer (embeddings or output stage)"
    return f"first in layer {diverging - 1} (layers before it match)"


def _prompt_ids(model: GGUFModel) -> list[int]:
    """The check question as the assistant sends it: in the model's chat template."""
    messages = [{"role": "user", "content": CHECK_QUESTION}]
    text = assemble(model.chat, messages) if model.chat else CHECK_QUESTION
    return PromptTokenizer(model.tokenizer_spec).encode(text)


def _shader_error(
    runner: KernelRunner, spec: KernelSpec, weight_format: str | None, error: Exception
) -> PagemindError:
    """Names the file and line the compiler points at (it sees the concatenated module)."""
    module = f"{spec.name}{':' + weight_format if weight_format else ''} [{_variant(runner)}]"
    text = str(error).strip()
    reason = re.search(r"^Shader '[^']*' (.*)$", text, re.MULTILINE)
    file, line = _kernel_file(runner, spec), None
    location = re.search(r"wgsl:(\d+):(\d+)", text)
    if location:
        files = spec.module_files(weight_format, runner.use_subgroups)
        file, line = _file_line(runner, files, int(location[1]))
    return PagemindError(
        f"shader {module} does not compile: {reason[1] if reason else text}",
        file=file,
        line=line,
        fix="correct the WGSL; a module is its files concatenated (shaders/README.md)",
    )


def _file_line(runner: KernelRunner, files: list[str], module_line: int) -> tuple[Path, int]:
    """The file and line of a line of the module (KernelSpec.source joins files with a newline)."""
    folder = runner.shader_dir or resource_dir("shaders")
    first = 1
    for name in files:
        lines = (folder / name).read_text(encoding="utf-8").count("\n") + 1
        if module_line < first + lines:
            return folder / name, module_line - first + 1
        first += lines
    return folder / files[-1], module_line


def _kernel_file(runner: KernelRunner, spec: KernelSpec) -> Path:
    name = next(name for name in reversed(spec.files) if name != WEIGHTS)
    return (runner.shader_dir or resource_dir("shaders")) / name


def _variant(runner: KernelRunner) -> str:
    return "f16" if runner.use_f16 else "subgroups" if runner.use_subgroups else "f32"
