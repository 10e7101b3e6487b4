"""The numpy BERT against sentence-transformers (a committed fixture); the reader's errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pagemind.errors import PagemindError
from pagemind.models import bert as bert_module
from pagemind.models.bert import Bert
from pagemind.models.package import read_package, write_package
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.safetensors_source import BertModel, read_bert_folder
from pagemind.models.tiny_model import random_bert_folder
from paths import REPO
from safetensors.numpy import load_file, save_file
from threadpoolctl import threadpool_info

REFERENCE = json.loads((REPO / "tests/fixtures/bert_reference.json").read_text(encoding="utf-8"))
EXPECTED = np.array(REFERENCE["embeddings"], dtype=np.float32)
SMALL_FILES = ("config.json", "tokenizer.json", "sentence_bert_config.json")


@pytest.fixture(scope="module")
def folder() -> Path:
    default = DEFAULT_MODELS["all-minilm-l6-v2"]
    path = default.path()
    if path is None:
        pytest.skip(f"default embedder missing: {default.install_command}")
    return path


@pytest.fixture(scope="module")
def packaged_model(folder: Path) -> BertModel:
    return read_bert_folder(folder)


@pytest.fixture(scope="module")
def packaged_bert(packaged_model: BertModel) -> Bert:
    return Bert(packaged_model)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_f32_embeddings_match_sentence_transformers(folder: Path) -> None:
    model = Bert(read_bert_folder(folder, weight_format="F32"))
    embeddings = model.embed(REFERENCE["sentences"])
    assert cosines(embeddings, EXPECTED).min() > 0.9999
    # Measured 1.7e-7: only float32 summation order differs.
    assert np.abs(embeddings - EXPECTED).max() < 1e-5


@pytest.mark.parametrize("weight_format", ["Q8_0", "F16"])
def test_smaller_weights_keep_the_embeddings(folder: Path, weight_format: str) -> None:
    model = read_bert_folder(folder, weight_format=weight_format)
    assert {t.format for t in model.tensors.values() if len(t.shape) == 2} == {weight_format}
    assert cosines(Bert(model).embed(REFERENCE["sentences"]), EXPECTED).min() > 0.999


def test_the_default_format_is_the_smallest_download(packaged_model: BertModel) -> None:
    assert {t.format for t in packaged_model.tensors.values() if len(t.shape) == 2} == {"Q8_0"}


def test_texts_past_max_length_are_truncated(packaged_bert: Bert) -> None:
    long_ids = packaged_bert.tokenize([REFERENCE["sentences"][-1]])[0]
    assert len(long_ids) == packaged_bert.config.max_length == REFERENCE["max_length"]
    assert packaged_bert.tokenize(REFERENCE["sentences"]) == REFERENCE["sentence_token_ids"]


def test_packing_many_texts_changes_nothing(
    packaged_bert: Bert, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentences = REFERENCE["sentences"]
    one_by_one = np.concatenate([packaged_bert.embed([text]) for text in sentences])
    monkeypatch.setattr(bert_module, "TOKENS_PER_BATCH", 300)  # several packed batches
    together = packaged_bert.embed(sentences)
    np.testing.assert_allclose(together, one_by_one, atol=2e-6)
    assert packaged_bert.embed([]).shape == (0, packaged_bert.config.hidden_size)


def test_the_reference_runs_on_the_packaged_weights(
    packaged_model: BertModel, packaged_bert: Bert, tmp_path: Path
) -> None:
    manifest, tensors = read_package(
        write_package(packaged_model, tmp_path, name="embedder").manifest_path
    )
    packaged = Bert(BertModel.from_package(manifest, tensors))
    texts = REFERENCE["sentences"][:3]
    assert np.array_equal(packaged.embed(texts), packaged_bert.embed(texts))


def test_semantic_neighbours(packaged_bert: Bert) -> None:
    query, related, unrelated = packaged_bert.embed(
        [
            "How do I publish my docs on GitHub Pages?",
            "Deploy the built site to the gh-pages branch of your repository.",
            "Bananas are rich in potassium.",
        ]
    )
    assert query @ related > query @ unrelated + 0.3


def small_copy(folder: Path, destination: Path) -> Path:
    destination.mkdir()
    for name in SMALL_FILES:
        shutil.copy(folder / name, destination / name)
    return destination


def test_a_masked_lm_checkpoint_reads_as_its_encoder(
    folder: Path, packaged_model: BertModel, tmp_path: Path
) -> None:
    """BertForMaskedLM saves the encoder under "bert." beside its head; the head is left out."""
    copy = small_copy(folder, tmp_path / "bert")
    stored = load_file(folder / "model.safetensors")
    renamed = {f"bert.{name}": array for name, array in stored.items()}
    renamed["cls.predictions.bias"] = np.zeros(30522, np.float32)
    save_file(renamed, copy / "model.safetensors")
    model = read_bert_folder(copy)
    assert list(model.tensors) == list(packaged_model.tensors)
    assert all(
        model.tensors[name].data.tobytes() == tensor.data.tobytes()
        for name, tensor in packaged_model.tensors.items()
    )


def test_missing_weights_file_is_named(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(PagemindError, match=r"model\.safetensors is missing"):
        read_bert_folder(small_copy(folder, tmp_path / "bert"))


def test_wrong_architecture_names_the_key(folder: Path, tmp_path: Path) -> None:
    copy = small_copy(folder, tmp_path / "bert")
    config = json.loads((copy / "config.json").read_text())
    config.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(PagemindError) as error:
        read_bert_folder(copy)
    assert error.value.key == "model_type"
    assert "LlamaForCausalLM" in str(error.value)


def test_missing_tensor_is_named(folder: Path, tmp_path: Path) -> None:
    copy = small_copy(folder, tmp_path / "bert")
    save_file({"embeddings.LayerNorm.weight": np.ones(384, np.float32)}, copy / "model.safetensors")
    with pytest.raises(PagemindError, match=r"embeddings\.word_embeddings\.weight"):
        read_bert_folder(copy)


def test_rows_that_fill_no_q8_0_block_are_stored_f16(tmp_path: Path) -> None:
    folder = random_bert_folder(tmp_path / "bert", hidden=32, intermediate=48)
    formats = {name: t.format for name, t in read_bert_folder(folder).tensors.items()}
    assert formats["encoder.layer.0.intermediate.dense.weight"] == "Q8_0"  # rows of 32
    assert formats["encoder.layer.0.output.dense.weight"] == "F16"  # rows of 48


def test_weights_of_another_shape_than_the_config_says_are_named(tmp_path: Path) -> None:
    folder = random_bert_folder(tmp_path / "bert", hidden=8, intermediate=16)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 32}))
    with pytest.raises(
        PagemindError, match=r"'encoder\.layer\.0\.intermediate\.dense\.weight' has shape \(16, 8\)"
    ) as error:
        read_bert_folder(folder)
    assert "(32, 8)" in str(error.value) and error.value.fix


def test_truncated_weights_file_is_an_error(folder: Path, tmp_path: Path) -> None:
    copy = small_copy(folder, tmp_path / "bert")
    with (folder / "model.safetensors").open("rb") as weights:
        (copy / "model.safetensors").write_bytes(weights.read(100_000))
    with pytest.raises(PagemindError, match="cannot read the safetensors file") as error:
        read_bert_folder(copy)
    assert error.value.fix


def test_batches_in_parallel_keep_each_texts_vector(
    packaged_bert: Bert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts are sorted by length into batches run on parallel workers; every vector still
    lands at its text's row, and each batch is reported once, with BLAS held to one thread."""
    texts = [sentence * repeat for repeat in (3, 1, 2) for sentence in REFERENCE["sentences"]]
    alone = np.concatenate([packaged_bert.embed([text]) for text in texts])
    monkeypatch.setattr(bert_module, "TOKENS_PER_BATCH", 200)
    monkeypatch.setattr(bert_module, "available_cores", lambda: 2)
    reported: dict[int, np.ndarray] = {}
    blas_threads: set[int] = set()

    def on_batch(indices: np.ndarray, vectors: np.ndarray) -> None:
        blas_threads.update(pool["num_threads"] for pool in threadpool_info())
        reported.update(zip(indices.tolist(), vectors, strict=True))

    together = packaged_bert.embed(texts, on_batch)
    np.testing.assert_allclose(together, alone, atol=2e-6)
    assert sorted(reported) == list(range(len(texts)))
    assert np.array_equal(np.stack([reported[i] for i in range(len(texts))]), together)
    assert blas_threads == {1}


def test_flops_count_minilm_at_21_mflop_per_token(packaged_bert: Bert) -> None:
    per_token = packaged_bert.flops([1])
    assert 21.2e6 < per_token < 21.3e6
    # Attention adds 4 x hidden FLOPs per token pair and layer.
    assert packaged_bert.flops([100]) - 100 * per_token == 6 * 4 * 384 * (100 * 100 - 100)
