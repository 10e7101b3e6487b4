"""`pagemind check` on wgpu-py: every figure printed on a pass; a broken shader or a corrupted
weight fails with a message naming the kernel, or the step where the program went wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from check_helpers import run_cli
from pagemind.checks import CheckedModel, check_embedder, check_generator
from pagemind.errors import PagemindError
from pagemind.gpu.compile_model import compile_program
from pagemind.gpu.device import open_device
from pagemind.gpu.runner import KernelRunner
from pagemind.models.gguf_source import read_gguf
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.safetensors_source import read_bert_folder
from pagemind.models.tensors import QuantTensor
from pagemind.resources import resource_dir

pytestmark = pytest.mark.gpu


def test_check_passes_and_prints_each_figure(site: Path, capsys: pytest.CaptureFixture):
    assert run_cli("check", site) == 0
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith("adapter: ") for line in lines)
    assert any(line.startswith("ok  compile: ") for line in lines)
    kernels = [line for line in lines if line.startswith("ok  kernel ")]
    qkv = "matvec_norm:Q4_1 n_in=64 n_out=128 eps="
    gate_up = "matvec_norm_swiglu:Q4_1 n_in=64 n_out=128 eps="
    assert any(line.startswith(f"ok  kernel {qkv}") for line in kernels)
    assert any(line.startswith(f"ok  kernel {gate_up}") for line in kernels)
    assert any(line.startswith("ok  kernel attention_packed ") for line in kernels)
    assert any(line.startswith("ok  kernel add_logit_bias n=") for line in kernels)
    for answer_token in (0, 1):  # prefill, decode
        assert any(
            line.startswith(f"ok  kernel copy_span_bias answer_token={answer_token} ")
            for line in kernels
        )
    assert all(" error " in line and "(limit " in line for line in kernels)
    assert any(
        line.startswith("ok  generator: ") and "32 greedy tokens identical" in line
        for line in lines
    )
    assert any(line.startswith("ok  embedder: 3 texts, lowest cosine 1.0000") for line in lines)


def broken_shaders(tmp_path: Path, file: str, old: str, new: str) -> Path:
    shaders = tmp_path / "shaders"
    shutil.copytree(resource_dir("shaders"), shaders)
    source = (shaders / file).read_text()
    assert old in source
    (shaders / file).write_text(source.replace(old, new, 1))
    return shaders


def test_a_shader_that_does_not_compile_is_named_with_its_file_and_line(site, tmp_path, capsys):
    shaders = broken_shaders(tmp_path, "softmax.wgsl", "let scale =", "let scale")
    line = (
        (shaders / "softmax.wgsl")
        .read_text()
        .splitlines()
        .index("    let scale 1.0 / workgroup_sum(thread, sum);")
    )
    assert run_cli("check", site, "--shaders", shaders) == 1
    error = capsys.readouterr().err
    assert f"{shaders / 'softmax.wgsl'}:{line + 1}: shader softmax [f32] does not compile" in error
    assert "expected operation (`=`)" in error


def test_a_kernel_that_computes_wrongly_is_named(site, tmp_path, capsys):
    shaders = broken_shaders(
        tmp_path, "elementwise.wgsl", "out[id.x] = 0.5 * value", "out[id.x] = 0.49 * value"
    )
    assert run_cli("check", site, "--shaders", shaders) == 1
    error = capsys.readouterr().err
    assert f"{shaders / 'elementwise.wgsl'}: kernel gelu n=" in error
    assert "the kernel does not match numpy" in error


def negated(model, name: str) -> dict[str, QuantTensor]:
    """The model's tensors with one weight negated: what the GPU binds in place of the package."""
    tensor = model.tensors[name]
    damaged = QuantTensor.from_array(name, -tensor.dequantize(), tensor.format)
    return {**model.tensors, name: damaged}


def test_a_corrupted_generator_weight_is_traced_to_its_step_and_layer(site: Path):
    model = read_gguf(site / "tiny.gguf")
    damaged = negated(model, "blk.1.ffn_down.weight")
    checked = CheckedModel("generator", model, compile_program(model), damaged)
    with pytest.raises(PagemindError, match=r"at the prefill of \d+ tokens, first in layer 1 "):
        check_generator(KernelRunner(open_device()), checked, 2, report=print)


def test_a_corrupted_embedder_weight_is_traced_to_its_layer(site: Path):
    model = read_bert_folder(DEFAULT_MODELS["all-minilm-l6-v2"].path())
    damaged = negated(model, "encoder.layer.3.output.dense.weight")
    checked = CheckedModel("embedder", model, compile_program(model), damaged)
    with pytest.raises(
        PagemindError, match="embed program leaves the numpy reference first in layer 3 "
    ):
        check_embedder(KernelRunner(open_device()), checked, report=print)


def test_a_corrupted_shard_in_the_package_is_named(site: Path, capsys):
    assert run_cli("build", site, "--no-check") == 0
    [shard] = (site / ".pagemind-cache" / "models" / "generator").glob("generator-0.*.bin")
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert run_cli("check", site) == 1
    assert f"{shard}: the model shard does not match its sha256" in capsys.readouterr().err
