"""LoRA adapters: llama.cpp's LoRA GGUF and PEFT folders read onto the base model's fused
weights, the reference's unmerged products against merged f32 weights, the packages a
build ships, and the errors for adapters that do not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pagemind.config import load_config
from pagemind.errors import PagemindError
from pagemind.models.adapters import (
    PEFT_WEIGHTS,
    adapter_ranks,
    adapter_tensors,
    read_adapter,
)
from pagemind.models.gguf_source import FUSED_WEIGHTS, GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_adapter import random_parts, write_lora_gguf, write_peft_folder
from pagemind.models.tiny_model import tiny_llama_gguf
from site_helpers import run_cli, tiny_assistant_site, write_site

RANK, ALPHA = 4, 8.0


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def base(request, tmp_path_factory) -> GGUFModel:
    folder = tmp_path_factory.mktemp(request.param)
    return read_gguf(tiny_llama_gguf(folder / "base.gguf", architecture=request.param))


def expected_delta(parts: dict, name: str, block: int, scale: float) -> np.ndarray:
    """What merging the parts' adapters adds to fused weight `name`: each part's b @ a in
    its own rows (zeros for a part without one), times scale * alpha / rank."""
    rows = []
    for part in FUSED_WEIGHTS.get(name, (name,)):
        a, b = parts[f"blk.{block}.{part}"]
        rows.append(b @ a * scale * ALPHA / RANK)
    return np.concatenate(rows)


def test_gguf_and_peft_read_onto_the_fused_weights(base, tmp_path):
    config, architecture = base.config, base.architecture
    parts = random_parts(config, RANK, seed=1)
    from_gguf = read_adapter(
        write_lora_gguf(tmp_path / "a.gguf", parts, architecture, ALPHA), config, architecture, 0.5
    )
    from_peft = read_adapter(
        write_peft_folder(tmp_path / "peft", parts, config, architecture, ALPHA),
        config,
        architecture,
        0.5,
    )

    assert sorted(from_gguf) == sorted(from_peft)
    assert len(from_gguf) == 4 * config.num_layers  # attn_qkv, attn_output, ffn_gate_up, down
    for name, pair in from_gguf.items():
        _, block, weight, _ = name.split(".")
        assert pair.delta().shape == base.tensors[name].shape
        want = expected_delta(parts, weight, int(block), 0.5)
        np.testing.assert_allclose(pair.delta(), want, atol=2e-3 * np.abs(want).max())
        np.testing.assert_allclose(from_peft[name].delta(), pair.delta(), rtol=1e-6, atol=1e-7)


def test_a_part_without_an_adapter_gets_zero_rows(base, tmp_path):
    config = base.config
    parts = random_parts(config, RANK, parts=("attn_k",), seed=2)
    adapter = read_adapter(
        write_lora_gguf(tmp_path / "k.gguf", parts, base.architecture, ALPHA),
        config,
        base.architecture,
        1.0,
    )
    q_rows = config.num_heads * config.head_dim
    kv_rows = config.num_kv_heads * config.head_dim
    delta = adapter["blk.0.attn_qkv.weight"].delta()

    assert sorted(adapter) == [f"blk.{b}.attn_qkv.weight" for b in range(config.num_layers)]
    assert not delta[:q_rows].any() and not delta[q_rows + kv_rows :].any()
    assert delta[q_rows : q_rows + kv_rows].any()


def test_unmerged_reference_matches_merged_weights(base, tmp_path):
    parts = random_parts(base.config, RANK, seed=3)
    path = write_lora_gguf(tmp_path / "a.gguf", parts, base.architecture, ALPHA)
    adapter = read_adapter(path, base.config, base.architecture, 1.0)
    merged = Llama(base)
    for index, block in enumerate(merged.blocks):
        for weight in ("attn_qkv", "attn_output", "ffn_gate_up", "ffn_down"):
            delta = adapter[f"blk.{index}.{weight}.weight"].delta()
            setattr(block, weight, getattr(block, weight) + delta)
    prompt = list(range(7, 20))

    unmerged = Llama(base, adapter).forward(prompt, KVCache())
    expected = merged.forward(prompt, KVCache())

    np.testing.assert_allclose(unmerged, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert not np.allclose(Llama(base).forward(prompt, KVCache()), expected, atol=1e-3)


def test_packaged_tensors_pad_ranks_and_missing_weights_with_zeros(base, tmp_path):
    architecture = base.architecture
    small = read_adapter(
        write_lora_gguf(
            tmp_path / "s.gguf", random_parts(base.config, 3, ("attn_v",)), architecture, 3.0
        ),
        base.config,
        architecture,
        1.0,
    )
    wide = read_adapter(
        write_lora_gguf(tmp_path / "w.gguf", random_parts(base.config, 12), architecture, 12.0),
        base.config,
        architecture,
        1.0,
    )
    ranks = adapter_ranks([small, wide])
    tensors = adapter_tensors(small, ranks, base.config)

    # The most any adapter needs (a fused weight: its parts' ranks), in whole groups of 8.
    assert ranks["blk.0.attn_qkv.weight"] == 40  # 3 x 12
    assert ranks["blk.0.ffn_gate_up.weight"] == 24
    assert ranks["blk.0.ffn_down.weight"] == 16
    assert {tensor.format for tensor in tensors.values()} == {"F16"}
    a = tensors["blk.0.attn_qkv.weight.lora_a"].dequantize()
    b = tensors["blk.0.attn_qkv.weight.lora_b"].dequantize()
    np.testing.assert_array_equal(b @ a, small["blk.0.attn_qkv.weight"].delta())
    assert not tensors["blk.1.ffn_down.weight.lora_b"].dequantize().any()


def test_adapters_that_do_not_fit_are_named(base, tmp_path):
    config, architecture = base.config, base.architecture
    parts = random_parts(config, RANK, ("attn_q",))
    other = "qwen2" if architecture == "llama" else "llama"
    wrong_architecture = write_lora_gguf(tmp_path / "other.gguf", parts, other, ALPHA)
    bigger = read_gguf(tiny_llama_gguf(tmp_path / "big.gguf", hidden_size=128))
    wrong_shape = write_lora_gguf(
        tmp_path / "big-lora.gguf", random_parts(bigger.config, RANK), architecture, ALPHA
    )
    embeddings = write_peft_folder(tmp_path / "embed", parts, config, architecture, ALPHA)
    weights = (embeddings / PEFT_WEIGHTS).read_bytes()
    (embeddings / PEFT_WEIGHTS).write_bytes(weights.replace(b"q_proj", b"e_proj"))
    no_weights = write_peft_folder(tmp_path / "none", parts, config, architecture, ALPHA)
    (no_weights / PEFT_WEIGHTS).unlink()
    cases = {
        wrong_architecture: "general.architecture",
        wrong_shape: "blk.0.attn_q",
        base.path: "general.type",  # a model, not an adapter
        embeddings: "e_proj",
        no_weights: PEFT_WEIGHTS,
    }
    for path, named in cases.items():
        with pytest.raises(PagemindError) as caught:
            read_adapter(path, config, architecture, 1.0)
        assert named in str(caught.value), path
        assert caught.value.fix


CONFIG = """\
site_name = "Styles"

[assistant]
adapters = [
  {adapters}
]
"""


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ('{ name = "Concise", path = "a.gguf" }', "short lowercase identifier"),
        ('{ name = "default", path = "a.gguf" }', "other than 'default'"),
        ('{ name = "a", path = "a.gguf" },\n  { name = "a", path = "a.gguf" }', "two adapters"),
        ('{ name = "a", path = "missing.gguf" }', "does not exist"),
        ('{ name = "a", path = "a.gguf", scale = 9 }', "between 0.05 and 4.0"),
        ('{ name = "a", path = "a.gguf", weight = 1 }', "optional scale"),
    ],
)
def test_config_errors_name_the_entry(tmp_path, entries, message):
    write_site(tmp_path, {"pagemind.toml": CONFIG.replace("{adapters}", entries), "docs/i.md": ""})
    (tmp_path / "a.gguf").write_bytes(b"")
    with pytest.raises(PagemindError) as caught:
        load_config(tmp_path)
    assert message in caught.value.message
    assert caught.value.key.startswith("assistant.adapters[")
    assert caught.value.line is not None and caught.value.fix


def test_build_ships_adapters_beside_an_unchanged_base(tmp_path):
    root = tiny_assistant_site(tmp_path / "site")
    assert run_cli("build", root, "--no-check") == 0
    generator = root / "site" / "_pagemind" / "models" / "generator"
    base_shards = sorted(path.name for path in generator.glob("generator-*.bin"))
    model = read_gguf(root / "tiny.gguf")
    write_lora_gguf(root / "concise.gguf", random_parts(model.config, RANK), "llama", ALPHA)
    peft = random_parts(model.config, 8, ("attn_q", "attn_v"), seed=1)
    write_peft_folder(root / "friendly", peft, model.config, "llama", 16.0)
    config = (root / "pagemind.toml").read_text()
    adapters = (
        'adapters = [{ name = "concise", path = "concise.gguf" },\n'
        '  { name = "friendly", path = "friendly", scale = 0.5 }]\n'
    )
    (root / "pagemind.toml").write_text(config.replace("[assistant]\n", "[assistant]\n" + adapters))

    assert run_cli("build", root, "--no-check") == 0
    settings_file = next((root / "site" / "_pagemind").glob("assistant.*.json"))
    settings = json.loads(settings_file.read_text())
    shipped = {entry["name"]: entry for entry in settings["adapters"]}

    assert sorted(path.name for path in generator.glob("generator-*.bin")) == base_shards
    assert sorted(shipped) == ["concise", "friendly"]
    for name, entry in shipped.items():
        manifest_path = root / "site" / "_pagemind" / entry["manifest"]
        manifest = json.loads(manifest_path.read_text())
        assert manifest["architecture"] == "lora" and manifest["config"]["name"] == name
        assert all(tensor.endswith((".lora_a", ".lora_b")) for tensor in manifest["tensors"])
    program = json.loads(next(generator.glob("program.*.json")).read_text())
    decode = program["phases"]["decode"]["steps"]
    with_adapter = [step["kernel"] for step in decode if step.get("adapter") is True]
    without = [step["kernel"] for step in decode if step.get("adapter") is False]
    # Each adapted product twice: plain while no adapter is on, adding B (A x) while one is.
    assert [f"{kernel}_lora" for kernel in without] == with_adapter
    assert len(with_adapter) == 4 * model.config.num_layers
