"""The CPU embedder (runtime/cpu_embedder.js) under Node gives the numpy reference's vectors
for a packaged random BERT in every embedder format, a tensor split across shards included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from node_script import run_module
from pagemind.models import package
from pagemind.models.bert import Bert
from pagemind.models.safetensors_source import BertModel, read_bert_folder
from pagemind.models.tiny_model import random_bert_folder
from paths import REPO

TEXTS = ["the docs", "a the docs the docs a", "the"]
EMBED = f"""
import {{ readFileSync }} from "node:fs";
import {{ CpuEmbedder }} from "{(REPO / "runtime" / "cpu_embedder.js").as_uri()}";
const manifestPath = process.argv[1];
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const folder = manifestPath.slice(0, manifestPath.lastIndexOf("/") + 1);
const shards = manifest.shards.map((shard) => new Uint8Array(readFileSync(folder + shard.file)));
const embedder = new CpuEmbedder(manifest, shards);
const texts = JSON.parse(readFileSync(0, "utf8"));
console.log(JSON.stringify(texts.map((text) => Array.from(embedder.embed(text)))));
"""


@pytest.mark.parametrize("weight_format", ["Q8_0", "F16", "F32"])
def test_cpu_vectors_match_the_reference(
    weight_format: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = random_bert_folder(
        tmp_path / "bert", vocab_size=40, hidden=64, layers=2, heads=4, intermediate=128
    )
    model = read_bert_folder(folder, weight_format=weight_format)
    monkeypatch.setattr(package, "SHARD_BYTES", 4096)  # tensors span shards
    info = package.write_package(model, tmp_path / "package", name="embedder")
    assert any("parts" in entry for entry in info.manifest["tensors"].values())
    manifest, tensors = package.read_package(info.manifest_path)
    expected = Bert(BertModel.from_package(manifest, tensors)).embed(TEXTS)

    vectors = np.array(run_module(EMBED, TEXTS, str(info.manifest_path)))

    np.testing.assert_allclose(vectors, expected, atol=2e-6)
