"""The program JSON the browser executes: its modules are the WGSL the Python runner compiles,
and runtime/expression.js reads its expressions as pagemind.gpu.kernels.evaluate does."""

from __future__ import annotations

import json

import pytest
from pagemind.gpu.kernels import KERNELS, evaluate
from pagemind.gpu.program import compile_decoder
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.gguf_source import read_gguf
from pagemind.models.tiny_model import tiny_llama_gguf
from pagemind.resources import resource_dir
from runtime_site import build_runtime_site


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> dict:
    path = tiny_llama_gguf(tmp_path_factory.mktemp("tiny") / "tiny.gguf", tied_embeddings=False)
    compiled = compile_decoder(read_gguf(path), context_length=64, max_prefill_tokens=16)
    return json.loads(json.dumps(program_to_dict(compiled)))  # what the browser receives


def concatenated(files: list[str]) -> str:
    shaders = resource_dir("shaders")
    return "\n".join((shaders / name).read_text(encoding="utf-8") for name in files)


def test_modules_are_the_sources_the_python_runner_compiles(program):
    for key, module in program["modules"].items():
        kernel, _, weight_format = key.partition(":")
        spec = KERNELS[kernel]
        assert concatenated(module["files"]) == spec.source(weight_format or None)
        assert module["entry_point"] == spec.entry(False)
        if spec.subgroups:
            assert concatenated(module["subgroups"]["files"]) == spec.source(
                weight_format or None, subgroups=True
            )
            assert module["subgroups"]["entry_point"] == spec.entry(True)
        for name, variant in (("rows", spec.rows), ("f16", spec.f16)):
            if variant:
                whole = module[name]
                assert concatenated(whole["files"]) == variant.source(weight_format or None)
                assert whole["entry_point"] == variant.entry_point
                assert whole["workgroups"] == list(variant.workgroups)
            else:
                assert module[name] is None
    assert {"matvec_norm:Q4_1", "matvec_norm:F16", "embedding:Q8_0", "top_k"} <= set(
        program["modules"]
    )
    assert program["modules"]["matmul:Q4_1"]["f16"]["files"][0] == "matmul_f16.wgsl"


def test_steps_bind_every_slot_to_a_declared_buffer(program):
    assert program["phases"]["prefill"]["variables"] == ["n_tokens", "position"]
    assert program["phases"]["decode"]["variables"] == ["position"]
    sampling = ["candidates", "n_history", "random", "repetition_penalty", "temperature", "top_p"]
    assert program["phases"]["sample"]["variables"] == sampling
    for phase in program["phases"].values():
        for step in phase["steps"]:
            slots = [binding["slot"] for binding in step["bindings"]]
            assert slots == [binding.slot for binding in KERNELS[step["kernel"]].bindings]
            named = [b["buffer"] for b in step["bindings"] if "buffer" in b]
            assert set(named) <= set(program["buffers"])
    tensors = [b for b in program["buffers"].values() if "tensor" in b]
    assert {"token_embd.weight", "output.weight"} <= {b["tensor"] for b in tensors}


EVALUATE_ALL = """
async (cases) => {
  const { compileExpression } = await import("./_pagemind/runtime/expression.js");
  return cases.map(([expression, variables]) => compileExpression(expression)(variables));
}
"""


@pytest.mark.browser
def test_javascript_evaluates_expressions_as_python_does(page, static_server, tmp_path, program):
    variables = {"n_tokens": 13, "position": 29, "n_history": 5, "repetition_penalty": 1.1}
    variables |= {"candidates": 40, "temperature": 0.2, "top_p": 0.9, "random": 0.25}
    cases = []
    for phase in program["phases"].values():
        for step in phase["steps"]:
            uniforms = {u["name"]: evaluate(str(u["value"]), variables) for u in step["uniforms"]}
            cases += [(u["value"], variables) for u in step["uniforms"]]
            cases += [(expression, uniforms) for expression in step["workgroups"]]
    cases += [("ceil((n - 1) / 3) * -2 + 7 / 2", {"n": 11}), ("1e-05", {})]
    page.goto(static_server(build_runtime_site(tmp_path)))

    results = page.evaluate(EVALUATE_ALL, cases)

    expected = [evaluate(str(expression), values) for expression, values in cases]
    assert results == pytest.approx(expected, rel=1e-12)
