"""Read a Hugging Face BERT folder (config.json, model.safetensors, tokenizer.json).

The weights are converted once, here, to the format the browser receives (F16 matrices by
default, F32 vectors), so the numpy reference, the GPU checks and the reader's browser all
compute with the very same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from safetensors import SafetensorError, safe_open

from pagemind.errors import PagemindError
from pagemind.models.tensors import QuantTensor
from pagemind.models.wordpiece import wordpiece_spec

ARCHITECTURE = "bert"
WEIGHTS_FILE = "model.safetensors"
# F16 halves the reader's download; its embeddings keep a cosine above 0.999 with F32.
DEFAULT_WEIGHT_FORMAT = "F16"
WEIGHT_FORMATS = ("F32", "F16")
# Checkpoints saved from BertFor* heads prefix the encoder's tensors with this.
ENCODER_PREFIX = "bert."

Pooling = Literal["mean", "cls"]


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    max_length: int  # tokens per text, [CLS] and [SEP] included; longer texts are truncated
    pooling: Pooling
    weight_format: str  # format of the matrices; vectors stay F32

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass
class BertModel:
    config: BertConfig
    tensors: dict[str, QuantTensor]
    tokenizer_spec: dict
    architecture: str = ARCHITECTURE
    chat: dict | None = None  # an encoder has no chat template

    @classmethod
    def from_package(cls, manifest: dict, tensors: dict[str, QuantTensor]) -> BertModel:
        """The model as the browser receives it (see package.read_package)."""
        return cls(BertConfig(**manifest["config"]), tensors, manifest["tokenizer"])


def bert_tensor_names(config: BertConfig) -> list[str]:
    """Every tensor the encoder uses, in the order the package stores them."""
    names = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ]
    for layer in range(config.num_layers):
        prefix = f"encoder.layer.{layer}."
        names += [
            prefix + name
            for module in (
                "attention.self.query",
                "attention.self.key",
                "attention.self.value",
                "attention.output.dense",
                "attention.output.LayerNorm",
                "intermediate.dense",
                "output.dense",
                "output.LayerNorm",
            )
            for name in (f"{module}.weight", f"{module}.bias")
        ]
    return names


def read_bert_folder(path: Path, *, weight_format: str = DEFAULT_WEIGHT_FORMAT) -> BertModel:
    """Read and validate a BERT folder; matrices are converted to `weight_format`."""
    if weight_format not in WEIGHT_FORMATS:
        raise ValueError(f"weight_format must be one of {WEIGHT_FORMATS}, not {weight_format!r}")
    config = _read_config(path, weight_format)
    tokenizer_file = _required_file(path, "tokenizer.json")
    spec = wordpiece_spec(
        json.loads(tokenizer_file.read_text(encoding="utf-8")),
        max_length=config.max_length,
        file=tokenizer_file,
    )
    tensors = _read_tensors(_required_file(path, WEIGHTS_FILE), config)
    return BertModel(config=config, tensors=tensors, tokenizer_spec=spec)


def _read_config(path: Path, weight_format: str) -> BertConfig:
    config_file = _required_file(path, "config.json")
    raw = json.loads(config_file.read_text(encoding="utf-8"))
    if raw.get("model_type") != "bert":
        raise PagemindError(
            f"the model type is {raw.get('model_type')!r} "
            f"({', '.join(raw.get('architectures') or [])}); the embedder must be BERT",
            file=config_file,
            key="model_type",
            fix="use a BertModel folder such as sentence-transformers/all-MiniLM-L6-v2",
        )
    _expect(raw, "hidden_act", "gelu", config_file)
    _expect(raw, "position_embedding_type", "absolute", config_file)
    try:
        max_positions = int(raw["max_position_embeddings"])
        config = BertConfig(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_layers=int(raw["num_hidden_layers"]),
            num_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_positions=max_positions,
            type_vocab_size=int(raw.get("type_vocab_size", 2)),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
            max_length=min(max_positions, _sentence_transformers_max_length(path)),
            pooling=_pooling(path),
            weight_format=weight_format,
        )
    except KeyError as missing:
        raise PagemindError(
            "a required BERT setting is missing",
            file=config_file,
            key=missing.args[0],
            fix="re-export the model with `model.save_pretrained(folder)`",
        ) from None
    if config.hidden_size % config.num_heads:
        raise PagemindError(
            f"hidden_size {config.hidden_size} is not a multiple of "
            f"num_attention_heads {config.num_heads}",
            file=config_file,
            key="num_attention_heads",
        )
    return config


def _sentence_transformers_max_length(path: Path) -> int:
    """The length the model was trained to embed (256 for MiniLM), if the folder says so."""
    settings = path / "sentence_bert_config.json"
    if not settings.is_file():
        return 1 << 30
    return int(json.loads(settings.read_text(encoding="utf-8")).get("max_seq_length", 1 << 30))


def _pooling(path: Path) -> Pooling:
    """Mean pooling unless the sentence-transformers pooling config asks for [CLS]."""
    settings = path / "1_Pooling" / "config.json"
    if not settings.is_file():
        return "mean"
    raw = json.loads(settings.read_text(encoding="utf-8"))
    if raw.get("pooling_mode_mean_tokens"):
        return "mean"
    if raw.get("pooling_mode_cls_token"):
        return "cls"
    raise PagemindError(
        "only mean or [CLS] pooling is supported",
        file=settings,
        key="pooling_mode_mean_tokens",
        fix="set pooling_mode_mean_tokens to true, or use another embedding model",
    )


def _read_tensors(weights_file: Path, config: BertConfig) -> dict[str, QuantTensor]:
    try:
        with safe_open(weights_file, framework="numpy") as weights:
            stored_names = weights.keys()
            stored = {name.removeprefix(ENCODER_PREFIX): name for name in stored_names}
            missing = [name for name in bert_tensor_names(config) if name not in stored]
            if missing:
                raise PagemindError(
                    f"{len(missing)} tensors are missing, first {missing[0]!r}",
                    file=weights_file,
                    fix="use a complete BertModel checkpoint (model.save_pretrained)",
                )
            arrays = {
                name: weights.get_tensor(stored[name]).astype(np.float32)
                for name in bert_tensor_names(config)
            }
    except (SafetensorError, TypeError) as error:  # a damaged file, or a dtype numpy lacks
        raise PagemindError(
            f"cannot read the safetensors file: {error}",
            file=weights_file,
            fix="re-export it with `model.save_pretrained(folder)` in float32 or float16",
        ) from None
    return {
        name: QuantTensor.from_array(name, array, _format_for(array, config))
        for name, array in arrays.items()
    }


def _format_for(array: np.ndarray, config: BertConfig) -> str:
    # Biases and norm weights are a rounding error of the download; F32 keeps them exact.
    return config.weight_format if array.ndim == 2 else "F32"


def _required_file(path: Path, name: str) -> Path:
    if not path.is_dir():
        raise PagemindError(
            "not a folder",
            file=path,
            fix="point at an HF-style BERT folder (config.json, model.safetensors, tokenizer.json)",
        )
    file = path / name
    if not file.is_file():
        raise PagemindError(
            f"{name} is missing from the model folder",
            file=path,
            fix="an HF-style BERT folder holds config.json, model.safetensors and tokenizer.json",
        )
    return file


def _expect(raw: dict[str, Any], key: str, value: str, config_file: Path) -> None:
    if raw.get(key, value) != value:
        raise PagemindError(
            f"{key} is {raw[key]!r}; only {value!r} is supported",
            file=config_file,
            key=key,
        )
