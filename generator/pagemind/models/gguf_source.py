"""Read a GGUF decoder: config, tensors in their stored blocks, tokenizer and chat template.

Each block's Q, K and V projections come back as one matrix, `blk.N.attn_qkv` (Q rows, then
K, then V; a Qwen2 bias likewise), and its gate and up projections as `blk.N.ffn_gate_up`
(gate rows, then up): one matrix-vector product where there were three, or two. A GGUF
block format stores every row on its own, so the fused tensor is the stored rows
concatenated, exactly. The program, the browser's package and the numpy reference all read
the fused tensors.

Supported: the `llama` (Llama 3.1+ scaled rope included), `qwen2`, `qwen3` and `gemma3`
architectures (models/architectures.py says what sets them apart) with F32, F16, Q8_0,
Q4_0, Q4_1, Q5_0 and Q5_1 tensors and the K-quants Q4_K, Q5_K and Q6_K (so the Q4_K_M,
Q5_K_M and Q6_K files people publish load as they are), and byte-level BPE (models/bpe.py)
or SentencePiece (models/spm.py) vocabularies. Other tensor types (I-quants, BF16)
are refused with the llama-quantize command that re-quantizes the file, rather than
converted here: a conversion would make the browser compute something llama.cpp never did.
The one conversion is where the parts of a fused matrix differ in format (a Q4_K_M file
keeps some attn_v in Q6_K beside Q4_K attn_q/attn_k): those parts are requantized to Q8_0,
whose step is about a sixteenth of Q4_K's and a quarter of Q6_K's, so the added error stays
well below the file's own (measured on a random 8-layer Q4_K_M model: logits off by 3.5 %
of their range, against 52 % for the Q4_K_M quantization itself).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader

from pagemind.errors import PagemindError
from pagemind.models import bpe, spm
from pagemind.models.architectures import (
    ARCHITECTURES,
    ROPE_FACTORS,
    architecture_shapes,
    gemma_settings,
)
from pagemind.models.chat_template import template_pieces
from pagemind.models.tensors import FORMATS, QuantTensor, block_values

# The weights of each transformer block, blk.<n>.<name>.weight.
BLOCK_WEIGHTS = (
    "attn_norm",
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_norm",
    "ffn_gate",
    "ffn_up",
    "ffn_down",
)
# Per block, a fused matrix and the GGUF matrices whose rows it holds, in order.
FUSED_WEIGHTS = {"attn_qkv": ("attn_q", "attn_k", "attn_v"), "ffn_gate_up": ("ffn_gate", "ffn_up")}
_MAGIC = b"GGUF"
_LARGE_ARRAYS = (
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.scores",
)
# What a damaged header or a metadata value of the wrong type raises while it is read.
_DAMAGE = (ValueError, KeyError, IndexError, TypeError, OverflowError, UnicodeDecodeError)


@dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    context_length: int
    rope_theta: float
    rms_norm_eps: float
    rope_interleaved: bool  # llama.cpp NORM rope (GGUF llama); False is NEOX (qwen2)
    attention_bias: bool  # qwen2 adds a bias to Q, K and V
    tied_embeddings: bool  # no output.weight: the token embedding is the output head
    qk_norm: bool = False  # qwen3: an RMS norm over each head of Q and K before the rope
    scaled_rope: bool = False  # Llama 3.1+: rope_freqs.weight divides each pair's frequency
    embedding_scale: float = 1.0  # gemma3: the token embedding times sqrt(hidden_size)
    post_norms: bool = False  # gemma3: RMS norms of the attention and FFN outputs
    ffn_activation: str = "silu"  # of the gated FFN: silu (SwiGLU) or gelu_tanh (GeGLU)
    sliding_window: int = 0  # positions a local layer's query sees, its own included
    local_layers: tuple[int, ...] = ()  # the blocks that attend to a sliding window
    local_rope_theta: float = 0.0  # their rope base

    def window(self, block: int) -> int | None:
        """The sliding window of the block's attention; None: every earlier position."""
        return self.sliding_window if block in self.local_layers else None

    def block_rope_theta(self, block: int) -> float:
        return self.local_rope_theta if block in self.local_layers else self.rope_theta


@dataclass
class GGUFModel:
    path: Path
    architecture: str
    config: DecoderConfig
    tensors: dict[str, QuantTensor]
    tokenizer_spec: dict
    chat_template: str | None
    chat: dict | None  # chat_template's pieces, with stop token ids
    metadata: dict[str, Any]  # every other key/value, large arrays left out


def read_gguf(path: Path) -> GGUFModel:
    """The model in a GGUF file; anything the reference cannot run is a PagemindError."""
    path = Path(path)
    reader = _open(path)
    try:
        return _model(reader, path)
    except _DAMAGE as error:
        raise PagemindError(
            f"the GGUF file is damaged: {type(error).__name__}: {error}",
            file=path,
            fix="download or copy the model file again, or convert it again with llama.cpp",
        ) from None


def _model(reader: GGUFReader, path: Path) -> GGUFModel:
    metadata = {key: field.contents() for key, field in reader.fields.items()}
    architecture = metadata.get("general.architecture")
    if architecture not in ARCHITECTURES:
        raise PagemindError(
            f"architecture {architecture!r} is not supported",
            file=path,
            key="general.architecture",
            fix=f"use a GGUF model of a supported architecture: {', '.join(ARCHITECTURES)}",
        )
    tensors = {tensor.name: _quant_tensor(tensor, path) for tensor in reader.tensors}
    spec = tokenizer_spec(metadata, path)
    config = _config(metadata, architecture, tensors, path)
    _check_tensors(tensors, config, path)
    _check_vocabulary(spec, config, path)
    tensors = fuse_decoder_tensors(tensors, config.num_layers, path)
    template = metadata.get("tokenizer.chat_template")
    return GGUFModel(
        path=path,
        architecture=architecture,
        config=config,
        tensors=tensors,
        tokenizer_spec=spec,
        chat_template=template,
        chat=None if template is None else _chat(template, spec, path),
        metadata={key: value for key, value in metadata.items() if key not in _LARGE_ARRAYS},
    )


def _open(path: Path) -> GGUFReader:
    with path.open("rb") as handle:
        if handle.read(len(_MAGIC)) != _MAGIC:
            raise PagemindError(
                "not a GGUF file (it does not start with 'GGUF')",
                file=path,
                fix="point at a .gguf model file",
            )
    try:
        reader = _BlockCheckingReader(path)
    except _PartialBlocks as partial:
        raise PagemindError(
            f"tensor {partial.name} is {partial.kind} with rows of {partial.row_length} values, "
            f"not whole blocks of {block_values(partial.kind)}",
            file=path,
            key=partial.name,
            fix="convert the model again with llama.cpp: llama-quantize gives rows that are "
            "not whole K-quant super-blocks Q5_0 or Q8_0 blocks instead",
        ) from None
    except (*_DAMAGE, OSError) as error:
        raise _truncated(path) from error
    end = max((tensor.data_offset + tensor.n_bytes for tensor in reader.tensors), default=0)
    if end > path.stat().st_size:
        raise _truncated(path)
    return reader


class _PartialBlocks(Exception):
    def __init__(self, name: str, kind: str, row_length: int) -> None:
        super().__init__(name)
        self.name, self.kind, self.row_length = name, kind, row_length


class _BlockCheckingReader(GGUFReader):
    """gguf-py's reader, naming the tensor whose rows are not whole blocks of its type (gguf-py
    refuses it without saying which)."""

    def _build_tensors(self, start_offs: int, fields: list) -> None:
        for field in fields:
            _, name, _, dims, raw_type, _ = field.parts
            kind = GGMLQuantizationType(raw_type[0]).name
            if kind in FORMATS and int(dims[0]) % block_values(kind):
                raise _PartialBlocks(bytes(name).decode("utf-8", "replace"), kind, int(dims[0]))
        super()._build_tensors(start_offs, fields)

    def _get(
        self, offset: int, dtype: Any, count: int = 1, override_order: str | None = None
    ) -> np.ndarray:
        """gguf-py's read of `count` values at `offset`, from a plain array view of the mapped
        file: a slice of the np.memmap itself builds a memmap object, and a vocabulary's
        100,000 strings take several such reads each (seconds in all, a third of that here)."""
        if "_mapped" not in self.__dict__:
            self._mapped = self.data.view(np.ndarray)
        dtype = np.dtype(dtype)
        values = self._mapped[offset : offset + dtype.itemsize * int(count)].view(dtype)
        order = self.byte_order if override_order is None else override_order
        return values.view(values.dtype.newbyteorder(order))


def stored_formats(path: Path) -> list[tuple[str, str, int]]:
    """(name, type, stored bytes) of each tensor of a GGUF file, whatever its types."""
    reader = _open(Path(path))
    return [
        (tensor.name, GGMLQuantizationType(tensor.tensor_type).name, int(tensor.n_bytes))
        for tensor in reader.tensors
    ]


def unsupported_format(name: str, kind: str, path: Path) -> PagemindError:
    return PagemindError(
        f"tensor {name} has type {kind}, which the browser kernels do not run",
        file=path,
        key=name,
        fix=(
            f"re-quantize it to one of {', '.join(FORMATS)}, e.g. with llama.cpp: "
            f"llama-quantize --allow-requantize {path.name} model-Q4_K_M.gguf Q4_K_M"
        ),
    )


def _truncated(path: Path) -> PagemindError:
    return PagemindError(
        f"the GGUF file is truncated or damaged: its {path.stat().st_size} bytes do not hold "
        "the header and tensors it declares",
        file=path,
        fix="download or copy the model file again",
    )


def _quant_tensor(tensor: Any, path: Path) -> QuantTensor:
    kind = GGMLQuantizationType(tensor.tensor_type).name
    if kind not in FORMATS:
        raise unsupported_format(tensor.name, kind, path)
    # GGUF lists dimensions innermost first; numpy order is the reverse.
    shape = tuple(int(size) for size in reversed(tensor.shape))
    data = np.asarray(tensor.data).view(np.uint8).reshape(-1)
    return QuantTensor(tensor.name, kind, shape, data)


def _config(
    metadata: dict, architecture: str, tensors: dict[str, QuantTensor], path: Path
) -> DecoderConfig:
    def size(key: str, default: int | None = None) -> int:
        return int(_setting(metadata, f"{architecture}.{key}", default, path, whole=True))

    def number(key: str, default: float | None = None) -> float:
        return _setting(metadata, f"{architecture}.{key}", default, path, whole=False)

    _require(tensors, "token_embd.weight", path)
    hidden = size("embedding_length")
    heads = size("attention.head_count")
    kv_heads = size("attention.head_count_kv", heads)
    if heads % kv_heads:
        raise PagemindError(
            f"{heads} attention heads cannot share {kv_heads} key/value heads evenly",
            file=path,
            key=f"{architecture}.attention.head_count_kv",
            fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
        )
    traits = ARCHITECTURES[architecture]
    _check_rope_scaling(metadata, architecture, tensors, path)
    layers = size("block_count")
    extra = gemma_settings(size, number, hidden, layers) if traits.gemma else {}
    return DecoderConfig(
        vocab_size=tensors["token_embd.weight"].shape[0],
        hidden_size=hidden,
        intermediate_size=size("feed_forward_length"),
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=size("attention.key_length", max(hidden // heads, 1)),
        context_length=size("context_length"),
        rope_theta=number("rope.freq_base", 10000.0),
        rms_norm_eps=number("attention.layer_norm_rms_epsilon"),
        rope_interleaved=traits.rope_interleaved,
        attention_bias="blk.0.attn_q.bias" in tensors,
        tied_embeddings="output.weight" not in tensors,
        qk_norm=traits.qk_norm,
        scaled_rope=ROPE_FACTORS in tensors,
        **extra,
    )


def _check_rope_scaling(
    metadata: dict, architecture: str, tensors: dict[str, QuantTensor], path: Path
) -> None:
    """Scaled rope only as llama.cpp writes Llama 3.1+: divisors in rope_freqs.weight."""
    key = f"{architecture}.rope.scaling.type"
    if metadata.get(key, "none") != "none":
        raise PagemindError(
            f"rope scaling of type {metadata[key]!r} is not supported",
            file=path,
            key=key,
            fix="use a model without rope scaling or with Llama 3's (rope_freqs.weight)",
        )
    if ROPE_FACTORS in tensors and not ARCHITECTURES[architecture].scaled_rope:
        raise PagemindError(
            f"scaled rotary embeddings ({ROPE_FACTORS}) are not supported for {architecture}",
            file=path,
            key=ROPE_FACTORS,
            fix="use a model of this architecture without rope scaling",
        )


def _setting(metadata: dict, key: str, default: float | None, path: Path, *, whole: bool) -> float:
    """A size (a whole number of at least 1) or a positive finite number from the metadata."""
    value = metadata.get(key, default)
    fix = "convert the model again with llama.cpp's convert_hf_to_gguf.py"
    if value is None:
        raise PagemindError("a required model setting is missing", file=path, key=key, fix=fix)
    if not _is_valid_setting(value, whole):
        kind = "a whole number of at least 1" if whole else "a positive number"
        raise PagemindError(f"must be {kind}, got {value!r}", file=path, key=key, fix=fix)
    return value


def _is_valid_setting(value: Any, whole: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value >= 1 and value == int(value) if whole else value > 0


def _check_tensors(tensors: dict[str, QuantTensor], config: DecoderConfig, path: Path) -> None:
    """Every weight the reference reads is there with the shape the settings give it, and
    nothing it would silently ignore is."""
    for name, shape in _expected_shapes(config):
        _require(tensors, name, path)
        if tensors[name].shape != shape:
            raise PagemindError(
                f"tensor {name} has shape {tensors[name].shape}; the model's settings give {shape}",
                file=path,
                key=name,
                fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
            )


def _expected_shapes(config: DecoderConfig) -> Iterator[tuple[str, tuple[int, ...]]]:
    """(name, numpy shape) of each weight, block by block: a block count far beyond the
    tensors the file holds fails at the first missing one."""
    hidden, inner = config.hidden_size, config.intermediate_size
    q_size = config.num_heads * config.head_dim
    kv_size = config.num_kv_heads * config.head_dim
    yield "token_embd.weight", (config.vocab_size, hidden)
    yield "output_norm.weight", (hidden,)
    if not config.tied_embeddings:
        yield "output.weight", (config.vocab_size, hidden)
    block_shapes = {
        "attn_norm": (hidden,),
        "attn_q": (q_size, hidden),
        "attn_k": (kv_size, hidden),
        "attn_v": (kv_size, hidden),
        "attn_output": (hidden, q_size),
        "ffn_norm": (hidden,),
        "ffn_gate": (inner, hidden),
        "ffn_up": (inner, hidden),
        "ffn_down": (hidden, inner),
    }
    for block in range(config.num_layers):
        for name in BLOCK_WEIGHTS:
            yield f"blk.{block}.{name}.weight", block_shapes[name]
        if config.attention_bias:
            for name in FUSED_WEIGHTS["attn_qkv"]:
                yield f"blk.{block}.{name}.bias", block_shapes[name][:1]
    yield from architecture_shapes(config)


# tokenizer.ggml.model -> the module that reads its vocabulary
TOKENIZERS = {"gpt2": bpe, "llama": spm}


def tokenizer_spec(metadata: dict, path: Path) -> dict:
    """The vocabulary as the tokenizer of its kind reads it: byte-level BPE or SentencePiece."""
    kind = metadata.get("tokenizer.ggml.model")
    if kind not in TOKENIZERS:
        raise PagemindError(
            f"tokenizer type {kind!r} is not supported: only byte-level BPE ('gpt2') and "
            "SentencePiece ('llama') are",
            file=path,
            key="tokenizer.ggml.model",
            fix="use a GGUF with a byte-level BPE vocabulary (Llama 3, Qwen, SmolLM) or a "
            "SentencePiece one (Llama 2, Gemma)",
        )
    return TOKENIZERS[kind].tokenizer_spec(metadata, path)


def _check_vocabulary(spec: dict, config: DecoderConfig, path: Path) -> None:
    """One embedding row per token, and the special token ids inside the vocabulary."""
    size = len(spec["vocab"])
    if size != config.vocab_size:
        raise PagemindError(
            f"the vocabulary has {size} tokens but token_embd.weight has {config.vocab_size} rows",
            file=path,
            key="tokenizer.ggml.tokens",
            fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
        )
    keys = {"bos": "bos", "eos": "eos", "pad": "padding", "unk": "unknown"}
    for role, key in keys.items():
        token_id = spec.get(f"{role}_id")
        if token_id is not None and not 0 <= token_id < size:
            raise PagemindError(
                f"token id {token_id} is outside the vocabulary of {size} tokens",
                file=path,
                key=f"tokenizer.ggml.{key}_token_id",
                fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
            )


def fuse_decoder_tensors(
    tensors: dict[str, QuantTensor], num_layers: int, path: Path
) -> dict[str, QuantTensor]:
    """`tensors` with each block's FUSED_WEIGHTS parts (weights, and biases where the model
    has them) replaced by the fused tensor, placed where its first part was."""
    parts_of = {
        f"blk.{block}.{fused}.{kind}": [f"blk.{block}.{part}.{kind}" for part in parts]
        for block in range(num_layers)
        for fused, parts in FUSED_WEIGHTS.items()
        for kind in ("weight", "bias")
    }
    fused_into = {part: fused for fused, parts in parts_of.items() for part in parts}
    result: dict[str, QuantTensor] = {}
    for name, tensor in tensors.items():
        if name not in fused_into:
            result[name] = tensor
        elif fused_into[name] not in result:
            fused = fused_into[name]
            result[fused] = _concatenate_rows(fused, parts_of[fused], tensors, path)
    return result


def _concatenate_rows(
    name: str, part_names: list[str], tensors: dict[str, QuantTensor], path: Path
) -> QuantTensor:
    for part_name in part_names:
        _require(tensors, part_name, path)  # a bias on Q alone cannot be fused
    parts = [tensors[part_name] for part_name in part_names]
    first = parts[0]
    for part_name, part in zip(part_names[1:], parts[1:], strict=True):
        if part.shape[1:] != first.shape[1:]:
            raise PagemindError(
                f"tensors {part_names[0]} {first.shape} and {part_name} {part.shape} cannot "
                f"be fused into {name}: their rows differ in length",
                file=path,
                key=part_name,
                fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
            )
    parts = _in_one_format(parts)
    shape = (sum(part.shape[0] for part in parts), *first.shape[1:])
    return QuantTensor(name, parts[0].format, shape, np.concatenate([p.data for p in parts]))


def _in_one_format(parts: list[QuantTensor]) -> list[QuantTensor]:
    """The parts of a fused matrix in one format: theirs if they share it; otherwise the
    finest float format among them, or else Q8_0, finer than any other block format."""
    formats = {part.format for part in parts}
    if len(formats) == 1:
        return parts
    common = next((kind for kind in ("F32", "F16") if kind in formats), "Q8_0")
    return [
        part
        if part.format == common
        else QuantTensor.from_array(part.name, part.dequantize(), common)
        for part in parts
    ]


def _require(tensors: dict[str, QuantTensor], name: str, path: Path) -> None:
    if name not in tensors:
        raise PagemindError(
            f"the model has no tensor {name}",
            file=path,
            key=name,
            fix="convert the model again with llama.cpp's convert_hf_to_gguf.py",
        )


def _chat(template: str, spec: dict, path: Path) -> dict:
    vocab = spec["vocab"]

    def token(token_id: int | None) -> str:
        return "" if token_id is None else vocab[token_id]

    # A tokenizer that reads BOS before the text itself gets none from the template too (as
    # llama.cpp drops a rendered leading BOS), or the model would read two.
    bos = "" if spec["add_bos"] else token(spec["bos_id"])
    pieces = template_pieces(template, bos, token(spec["eos_id"]), path)
    ids = {index for index, text in enumerate(vocab) if text in pieces["stop_strings"]}
    pieces["stop_ids"] = sorted(ids | ({spec["eos_id"]} - {None}))
    return pieces
