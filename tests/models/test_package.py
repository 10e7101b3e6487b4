"""The weight package: bit-exact round trips, alignment, hashes, and rebuilds that touch nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from pagemind.errors import PagemindError
from pagemind.models import package
from pagemind.models.package import ALIGNMENT, read_package, write_package
from pagemind.models.registry import DEFAULT_MODELS, load_model
from pagemind.models.tensors import FORMATS, QuantTensor, block_values


@dataclass(frozen=True)
class TinyConfig:
    hidden_size: int = 64


@dataclass
class TinyModel:
    tensors: dict[str, QuantTensor]
    architecture: str = "tiny"
    config: TinyConfig = field(default_factory=TinyConfig)
    tokenizer_spec: dict = field(default_factory=lambda: {"type": "none"})
    chat: dict | None = None


def tiny_model(seed: int = 0) -> TinyModel:
    """Every format, with sizes that are not multiples of the alignment."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for index, tensor_format in enumerate(FORMATS):
        for rows in (3, 37):
            name = f"blk.{index}.{rows}.weight"
            row_length = max(96, block_values(tensor_format))  # K-quants: one super-block
            array = rng.standard_normal((rows, row_length)).astype(np.float32)
            tensors[name] = QuantTensor.from_array(name, array, tensor_format)
    return TinyModel(tensors)


def assert_same_tensors(read: dict[str, QuantTensor], written: dict[str, QuantTensor]) -> None:
    assert list(read) == list(written)
    for name, tensor in written.items():
        assert read[name].format == tensor.format
        assert read[name].shape == tensor.shape
        assert read[name].data.tobytes() == tensor.data.tobytes(), name


def test_round_trip_is_bit_exact_for_every_format(tmp_path: Path) -> None:
    model = tiny_model()
    info = write_package(model, tmp_path, name="tiny")
    manifest, tensors = read_package(info.manifest_path)
    assert_same_tensors(tensors, model.tensors)
    assert manifest["format"] == "pagemind-model/1"
    assert manifest["config"] == {"hidden_size": 64}
    assert {entry["offset"] % ALIGNMENT for entry in manifest["tensors"].values()} == {0}
    for shard in manifest["shards"]:
        content = (tmp_path / shard["file"]).read_bytes()
        assert len(content) == shard["bytes"] <= package.SHARD_BYTES
        assert hashlib.sha256(content).hexdigest() == shard["sha256"]
        assert shard["file"] == f"tiny-{manifest['shards'].index(shard)}.{shard['sha256'][:12]}.bin"
    assert manifest["download_bytes"] == info.manifest_path.stat().st_size + sum(
        shard["bytes"] for shard in manifest["shards"]
    )


def test_only_a_tensor_larger_than_a_shard_is_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_model()
    big = np.arange(10_000, dtype=np.float32).reshape(100, 100)
    model.tensors["big"] = QuantTensor.from_array("big", big, "F32")  # 40000 bytes
    monkeypatch.setattr(package, "SHARD_BYTES", 16384)  # the other tensors fit

    manifest, tensors = read_package(write_package(model, tmp_path, name="tiny").manifest_path)
    assert_same_tensors(tensors, model.tensors)
    parts = manifest["tensors"]["big"]["parts"]
    assert [part["bytes"] for part in parts] == [16384, 16384, 7232]
    assert len({part["shard"] for part in parts}) == 3
    unsplit = [entry for name, entry in manifest["tensors"].items() if name != "big"]
    assert all("parts" not in entry for entry in unsplit)
    assert all(shard["bytes"] <= 16384 for shard in manifest["shards"])


def test_rewriting_an_unchanged_model_touches_no_file(tmp_path: Path) -> None:
    first = write_package(tiny_model(), tmp_path, name="tiny")
    times = {path: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    again = write_package(tiny_model(), tmp_path, name="tiny")
    assert again.manifest_path == first.manifest_path
    assert again.shards_written == 0
    assert {path: path.stat().st_mtime_ns for path in tmp_path.iterdir()} == times


def test_a_changed_tensor_rewrites_its_shard_and_removes_the_stale_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(package, "SHARD_BYTES", 8192)  # several shards
    other = write_package(tiny_model(), tmp_path, name="other")
    model = tiny_model()
    first = write_package(model, tmp_path, name="tiny")
    last_name = list(model.tensors)[-1]
    model.tensors[last_name] = QuantTensor.from_array(
        last_name, np.ones(model.tensors[last_name].shape, np.float32), "Q4_1"
    )
    second = write_package(model, tmp_path, name="tiny")
    assert len(second.shard_paths) > 1
    assert second.shards_written == 1
    assert second.shard_paths[:-1] == first.shard_paths[:-1]
    assert not first.manifest_path.exists() and not first.shard_paths[-1].exists()
    expected = {second.manifest_path, *second.shard_paths, other.manifest_path, *other.shard_paths}
    assert set(tmp_path.iterdir()) == expected


def test_a_corrupted_shard_is_named(tmp_path: Path) -> None:
    info = write_package(tiny_model(), tmp_path, name="tiny")
    shard = info.shard_paths[0]
    content = bytearray(shard.read_bytes())
    content[0] ^= 0xFF
    shard.write_bytes(bytes(content))
    with pytest.raises(PagemindError, match="sha256") as error:
        read_package(info.manifest_path)
    assert error.value.file == shard


def test_a_manifest_of_another_format_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.000000000000.json"
    manifest.write_text(json.dumps({"format": "something-else/9"}))
    with pytest.raises(PagemindError) as error:
        read_package(manifest)
    assert error.value.key == "format"


@pytest.mark.parametrize("name", list(DEFAULT_MODELS))
def test_default_models_round_trip(name: str, tmp_path: Path) -> None:
    path = DEFAULT_MODELS[name].path()
    if path is None:
        pytest.skip(f"{name} missing: {DEFAULT_MODELS[name].install_command}")
    model = load_model(path)
    info = write_package(model, tmp_path, name=name)
    manifest, tensors = read_package(info.manifest_path)
    assert_same_tensors(tensors, model.tensors)
    assert all(shard["bytes"] <= package.SHARD_BYTES for shard in manifest["shards"])
    assert info.download_bytes == package.download_bytes(model, name)
    assert write_package(model, tmp_path, name=name).shards_written == 0
