"""Read a Hugging Face BERT folder (config.json, model.safetensors, tokenizer.json).

The weights are converted once, here, to the format the browser receives (F16 matrices by
default, F32 vectors), so the numpy reference, the GPU checks and the reader's browser all
compute with the very same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from safetensors import SafetensorError, safe_open

from pagemind.config import EMBEDDER_FORMATS, read_utf8
from pagemind.errors import PagemindError
from pagemind.models.tensors import QuantTensor, block_values
from pagemind.models.wordpiece import wordpiece_spec

ARCHITECTURE = "bert"
WEIGHTS_FILE = "model.safetensors"
DEFAULT_WEIGHT_FORMAT = EMBEDDER_FORMATS[0]  # [assistant] embedder_format's default
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


def bert_tensor_shapes(config: BertConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Every tensor the encoder uses with its numpy shape ((n_out, n_in) for a matrix), in
    the order the package stores them."""
    hidden, inner = config.hidden_size, config.intermediate_size
    shapes = [
        ("embeddings.word_embeddings.weight", (config.vocab_size, hidden)),
        ("embeddings.position_embeddings.weight", (config.max_positions, hidden)),
        ("embeddings.token_type_embeddings.weight", (config.type_vocab_size, hidden)),
        ("embeddings.LayerNorm.weight", (hidden,)),
        ("embeddings.LayerNorm.bias", (hidden,)),
    ]
    modules = {
        "attention.self.query": (hidden, hidden),
        "attention.self.key": (hidden, hidden),
        "attention.self.value": (hidden, hidden),
        "attention.output.dense": (hidden, hidden),
        "attention.output.LayerNorm": (hidden,),
        "intermediate.dense": (inner, hidden),
        "output.dense": (hidden, inner),
        "output.LayerNorm": (hidden,),
    }
    for layer in range(config.num_layers):
        for module, shape in modules.items():
            prefix = f"encoder.layer.{layer}.{module}"
            shapes += [(f"{prefix}.weight", shape), (f"{prefix}.bias", shape[:1])]
    return shapes


def bert_tensor_names(config: BertConfig) -> list[str]:
    """Every tensor the encoder uses, in the order the package stores them."""
    return [name for name, _ in bert_tensor_shapes(config)]


def read_bert_folder(path: Path, *, weight_format: str = DEFAULT_WEIGHT_FORMAT) -> BertModel:
    """Read and validate a BERT folder; matrices are converted to `weight_format`."""
    if weight_format not in EMBEDDER_FORMATS:
        raise ValueError(f"weight_format must be one of {EMBEDDER_FORMATS}, not {weight_format!r}")
    config = _read_config(path, weight_format)
    tokenizer_file = _required_file(path, "tokenizer.json")
    with _reading(
        tokenizer_file, "re-export the tokenizer with `tokenizer.save_pretrained(folder)`"
    ):
        spec = wordpiece_spec(
            read_json(tokenizer_file), max_length=config.max_length, file=tokenizer_file
        )
    tensors = _read_tensors(_required_file(path, WEIGHTS_FILE), config)
    return BertModel(config=config, tensors=tensors, tokenizer_spec=spec)


def read_json(file: Path) -> dict[str, Any]:
    """A JSON object from a model file; damage is a PagemindError naming the file and line."""
    text = read_utf8(file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PagemindError(
            f"not valid JSON: {error.msg} (column {error.colno})",
            file=file,
            line=error.lineno,
            fix="restore the file from the model's original folder",
        ) from None
    except RecursionError:
        raise PagemindError("the JSON is nested too deeply to read", file=file) from None
    if not isinstance(data, dict):
        raise PagemindError(
            f"expected a JSON object, found {type(data).__name__}",
            file=file,
            fix="restore the file from the model's original folder",
        )
    return data


@contextmanager
def _reading(file: Path, fix: str) -> Iterator[None]:
    """What a file of unexpected structure raises, as an error naming that file."""
    try:
        yield
    except KeyError as missing:
        raise PagemindError(
            "a required setting is missing", file=file, key=str(missing.args[0]), fix=fix
        ) from None
    except (TypeError, ValueError, AttributeError, IndexError, OverflowError) as error:
        raise PagemindError(f"unexpected content: {error}", file=file, fix=fix) from None


def _read_config(path: Path, weight_format: str) -> BertConfig:
    config_file = _required_file(path, "config.json")
    raw = read_json(config_file)
    max_length = _sentence_transformers_max_length(path)
    pooling = _pooling(path)
    with _reading(config_file, "re-export the model with `model.save_pretrained(folder)`"):
        if raw.get("model_type") != "bert":
            raise PagemindError(
                f"the model type is {raw.get('model_type')!r} "
                f"({', '.join(map(str, raw.get('architectures') or []))}); "
                "the embedder must be BERT",
                file=config_file,
                key="model_type",
                fix="use a BertModel folder such as sentence-transformers/all-MiniLM-L6-v2",
            )
        _expect(raw, "hidden_act", "gelu", config_file)
        _expect(raw, "position_embedding_type", "absolute", config_file)
        sizes = {key: _positive_int(raw, key, config_file) for key in _SIZE_KEYS}
        config = BertConfig(
            vocab_size=sizes["vocab_size"],
            hidden_size=sizes["hidden_size"],
            num_layers=sizes["num_hidden_layers"],
            num_heads=sizes["num_attention_heads"],
            intermediate_size=sizes["intermediate_size"],
            max_positions=sizes["max_position_embeddings"],
            type_vocab_size=int(raw.get("type_vocab_size", 2)),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
            max_length=min(sizes["max_position_embeddings"], max_length),
            pooling=pooling,
            weight_format=weight_format,
        )
    if config.hidden_size % config.num_heads:
        raise PagemindError(
            f"hidden_size {config.hidden_size} is not a multiple of "
            f"num_attention_heads {config.num_heads}",
            file=config_file,
            key="num_attention_heads",
        )
    return config


_SIZE_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)


def _positive_int(raw: dict[str, Any], key: str, config_file: Path) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PagemindError(
            f"{key} must be a positive integer, got {value!r}",
            file=config_file,
            key=key,
            fix="restore config.json from the model's original folder",
        )
    return value


def _sentence_transformers_max_length(path: Path) -> int:
    """The length the model was trained to embed (256 for MiniLM), if the folder says so."""
    settings = path / "sentence_bert_config.json"
    if not settings.is_file():
        return 1 << 30
    with _reading(settings, "set max_seq_length to the longest text in tokens, e.g. 256"):
        length = read_json(settings).get("max_seq_length", 1 << 30)
        if isinstance(length, bool) or not isinstance(length, int) or length < 3:
            raise ValueError(f"max_seq_length must be an integer of 3 or more, got {length!r}")
        return length


def _pooling(path: Path) -> Pooling:
    """Mean pooling unless the sentence-transformers pooling config asks for [CLS]."""
    settings = path / "1_Pooling" / "config.json"
    if not settings.is_file():
        return "mean"
    raw = read_json(settings)
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
    _check_shapes(arrays, config, weights_file)
    return {
        name: QuantTensor.from_array(name, array, _format_for(array, config))
        for name, array in arrays.items()
    }


def _check_shapes(arrays: dict[str, np.ndarray], config: BertConfig, weights_file: Path) -> None:
    """The weights must be those of the model config.json describes."""
    for name, shape in bert_tensor_shapes(config):
        if arrays[name].shape != shape:
            raise PagemindError(
                f"tensor {name!r} has shape {arrays[name].shape}, but config.json describes "
                f"{shape}",
                file=weights_file,
                fix="keep config.json and model.safetensors of the same model together",
            )


def _format_for(array: np.ndarray, config: BertConfig) -> str:
    # Biases and norm weights are a rounding error of the download; F32 keeps them exact.
    if array.ndim != 2:
        return "F32"
    # Rows that do not fill whole blocks (TinyBERT's 312 values, say) go F16, as
    # llama-quantize falls back for such rows.
    if array.shape[1] % block_values(config.weight_format):
        return "F16"
    return config.weight_format


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
