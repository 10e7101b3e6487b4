"""LoRA adapters: low-rank changes a site applies to its generator at run time, unmerged.

An adapted projection computes y = W x + s * B (A x), A of shape (r, n_in), B (n_out, r),
s = scale * alpha / r (the author's `scale` from [assistant] adapters, alpha and r from
the adapter). Two sources are read:

- llama.cpp's LoRA GGUF (convert_lora_to_gguf.py): general.type = "adapter",
  adapter.lora.alpha, tensors `blk.N.<part>.weight.lora_a` / `.lora_b`, their rows already
  in the base GGUF's order;
- a PEFT folder: adapter_config.json (r, lora_alpha, use_rslora) and
  adapter_model.safetensors (`...layers.N.self_attn.q_proj.lora_A.weight`, ...). For the
  llama architecture, the rows of q_proj's and k_proj's B are permuted as
  convert_hf_to_gguf.py permutes the base model's Q and K.

pagemind fuses Q, K, V into attn_qkv and gate, up into ffn_gate_up (gguf_source). An
adapter of a fused matrix stacks its parts' A matrices and places each part's B in its
own rows and columns (zeros elsewhere): B_fused A_fused x = [B_q A_q x; B_k A_k x; ...], so
a part without an adapter gets zero rows, and one product pair serves the fused matrix.
The scale s is folded into B, so the program only adds B (A x). The site ships A and B as
F16 (the reference computes with the same rounded values), at ranks rounded up to whole
groups of 8, the weight kernels' F16 block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from safetensors import SafetensorError, safe_open

from pagemind.errors import PagemindError
from pagemind.models.gguf_source import FUSED_WEIGHTS, DecoderConfig
from pagemind.models.safetensors_source import read_json
from pagemind.models.tensors import FORMATS, QuantTensor

PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
# PEFT module names of the parts an adapter may change, by their GGUF names.
PEFT_MODULES = {
    "attn_q": "q_proj",
    "attn_k": "k_proj",
    "attn_v": "v_proj",
    "attn_output": "o_proj",
    "ffn_gate": "gate_proj",
    "ffn_up": "up_proj",
    "ffn_down": "down_proj",
}
_GGUF_TENSOR = re.compile(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])")
_PEFT_TENSOR = re.compile(r".*\blayers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight")
# The tensors of the adapter of base weight W: W + LORA_A and W + LORA_B.
LORA_A, LORA_B = ".lora_a", ".lora_b"
ADAPTER_FORMAT = "F16"
RANK_MULTIPLE = 8
_GGUF_FIX = "convert the adapter again with llama.cpp's convert_lora_to_gguf.py --base <model>"


# alpha / r (or alpha / sqrt(r) for rsLoRA) as a function of the rank r.
AlphaOverRank = Callable[[int], float]


@dataclass(frozen=True)
class LoraPair:
    """One projection's adapter: y += b @ (a @ x), the scale folded into b."""

    a: np.ndarray  # (rank, n_in) float32
    b: np.ndarray  # (n_out, rank) float32

    @property
    def rank(self) -> int:
        return self.a.shape[0]

    def delta(self) -> np.ndarray:
        """b @ a: what merging the adapter adds to the weight (for checks)."""
        return self.b @ self.a


# An adapter as the program applies it: one pair per adapted (fused) base weight name.
Adapter = dict[str, LoraPair]


def read_adapter(path: Path, config: DecoderConfig, architecture: str, scale: float) -> Adapter:
    """The adapter at `path` (a LoRA GGUF or a PEFT folder) for a base model of `config`,
    keyed by the base's fused weight names, its scale folded in."""
    if path.is_dir():
        parts, alpha_over_rank = _read_peft(path, config, architecture)
    else:
        parts, alpha_over_rank = _read_lora_gguf(path, architecture)
    _check_shapes(parts, config, path)
    return _fused(
        {name: _scaled(pair, scale * alpha_over_rank(pair.rank)) for name, pair in parts.items()},
        config,
    )


def adapter_ranks(adapters: Sequence[Adapter]) -> dict[str, int]:
    """The rank the program reserves for each adapted weight: the most any adapter needs."""
    ranks: dict[str, int] = {}
    for adapter in adapters:
        for name, pair in adapter.items():
            rank = -(-pair.rank // RANK_MULTIPLE) * RANK_MULTIPLE
            ranks[name] = max(ranks.get(name, 0), rank)
    return dict(sorted(ranks.items(), key=lambda item: _weight_order(item[0])))


def adapter_tensors(
    adapter: Adapter, ranks: Mapping[str, int], config: DecoderConfig
) -> dict[str, QuantTensor]:
    """ADAPTER_FORMAT tensors `<weight>.lora_a` / `.lora_b` at the program's ranks: an
    adapter of a lower rank, or without a weight the program adapts, is padded with zeros."""
    tensors = {}
    for name, rank in ranks.items():
        n_out, n_in = fused_shape(name, config)
        a, b = np.zeros((rank, n_in), np.float32), np.zeros((n_out, rank), np.float32)
        if name in adapter:
            pair = adapter[name]
            a[: pair.rank], b[:, : pair.rank] = pair.a, pair.b
        for suffix, values in ((LORA_A, a), (LORA_B, b)):
            tensors[name + suffix] = QuantTensor.from_array(name + suffix, values, ADAPTER_FORMAT)
    return tensors


def weight_shapes(config: DecoderConfig) -> dict[str, tuple[int, int]]:
    """(n_out, n_in) of each projection an adapter may change, by part name."""
    hidden, inner = config.hidden_size, config.intermediate_size
    q_size = config.num_heads * config.head_dim
    kv_size = config.num_kv_heads * config.head_dim
    return {
        "attn_q": (q_size, hidden),
        "attn_k": (kv_size, hidden),
        "attn_v": (kv_size, hidden),
        "attn_output": (hidden, q_size),
        "ffn_gate": (inner, hidden),
        "ffn_up": (inner, hidden),
        "ffn_down": (hidden, inner),
    }


def _read_lora_gguf(path: Path, architecture: str) -> tuple[dict[str, LoraPair], AlphaOverRank]:
    try:
        reader = GGUFReader(path)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise PagemindError(f"cannot read the adapter: {error}", file=path, fix=_GGUF_FIX) from None
    metadata = {name: field.contents() for name, field in reader.fields.items() if field.types}
    if metadata.get("general.type") != "adapter" or metadata.get("adapter.type") != "lora":
        raise PagemindError(
            "not a LoRA adapter GGUF (general.type must be 'adapter', adapter.type 'lora')",
            file=path,
            key="general.type",
            fix=_GGUF_FIX,
        )
    if metadata.get("general.architecture") != architecture:
        raise PagemindError(
            f"the adapter is for {metadata.get('general.architecture')!r} models, the site's "
            f"model is {architecture!r}",
            file=path,
            key="general.architecture",
            fix="use an adapter trained on the site's model",
        )
    alpha = float(metadata.get("adapter.lora.alpha", 0.0))
    pieces: dict[str, dict[str, np.ndarray]] = {}
    for tensor in reader.tensors:
        block, part, which = _tensor_key(_GGUF_TENSOR, tensor.name, path)
        pieces.setdefault(f"blk.{block}.{part}", {})[which] = _gguf_values(tensor, path)
    # llama.cpp: scale * alpha / rank, or the scale alone when alpha is 0 (not given).
    return _pairs(pieces, path), lambda rank: alpha / rank if alpha else 1.0


def _read_peft(
    path: Path, config: DecoderConfig, architecture: str
) -> tuple[dict[str, LoraPair], AlphaOverRank]:
    settings = read_json(_required(path / PEFT_CONFIG))
    for key in ("rank_pattern", "alpha_pattern"):
        if settings.get(key):
            raise PagemindError(
                f"per-module ranks or alphas ({key}) are not supported",
                file=path / PEFT_CONFIG,
                key=key,
                fix="train the adapter with one r and lora_alpha for every module",
            )
    alpha = settings.get("lora_alpha")
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or alpha <= 0:
        raise PagemindError(
            f"lora_alpha must be a positive number, got {alpha!r}",
            file=path / PEFT_CONFIG,
            key="lora_alpha",
            fix="save the adapter again with PEFT's save_pretrained",
        )
    weights = _required(path / PEFT_WEIGHTS)
    pieces: dict[str, dict[str, np.ndarray]] = {}
    try:
        with safe_open(weights, framework="numpy") as stored:
            for name in stored.keys():  # noqa: SIM118 (safe_open is no mapping)
                block, module, which = _tensor_key(_PEFT_TENSOR, name, weights)
                part = _part_of_module(module, name, weights)
                values = stored.get_tensor(name).astype(np.float32)
                pieces.setdefault(f"blk.{block}.{part}", {})[which.lower()] = values
    except (SafetensorError, TypeError) as error:
        raise PagemindError(
            f"cannot read the adapter's weights: {error}",
            file=weights,
            fix="save the adapter again with PEFT's save_pretrained in float32 or float16",
        ) from None
    pairs = _pairs(pieces, weights)
    if architecture == "llama":
        pairs = {name: _gguf_row_order(name, pair, config) for name, pair in pairs.items()}
    if settings.get("use_rslora"):
        return pairs, lambda rank: alpha / rank**0.5
    return pairs, lambda rank: alpha / rank


def _tensor_key(pattern: re.Pattern, name: str, path: Path) -> tuple[int, str, str]:
    match = pattern.fullmatch(name)
    if match is None:
        raise PagemindError(
            f"tensor {name} is not the LoRA A or B of a block's projection",
            file=path,
            key=name,
            fix="adapt only the attention and FFN projections (q, k, v, o, gate, up, down)",
        )
    return int(match[1]), match[2], match[3]


def _part_of_module(module: str, name: str, path: Path) -> str:
    for part, peft_module in PEFT_MODULES.items():
        if peft_module == module:
            return part
    raise PagemindError(
        f"tensor {name} adapts {module}, which pagemind cannot adapt",
        file=path,
        key=name,
        fix=f"target only {', '.join(PEFT_MODULES.values())} (LoraConfig target_modules)",
    )


def _pairs(pieces: Mapping[str, Mapping[str, np.ndarray]], path: Path) -> dict[str, LoraPair]:
    pairs = {}
    for name, found in pieces.items():
        if set(found) != {"a", "b"}:
            missing = ({"a", "b"} - set(found)).pop()
            raise PagemindError(
                f"{name} has no lora_{missing} tensor",
                file=path,
                key=name,
                fix="use the complete adapter as its trainer saved it",
            )
        pairs[name] = LoraPair(np.ascontiguousarray(found["a"]), np.ascontiguousarray(found["b"]))
    if not pairs:
        raise PagemindError("the adapter holds no LoRA tensors", file=path, fix=_GGUF_FIX)
    return pairs


def _gguf_values(tensor: object, path: Path) -> np.ndarray:
    kind = GGMLQuantizationType(tensor.tensor_type).name
    if kind not in FORMATS:
        raise PagemindError(
            f"tensor {tensor.name} is stored as {kind}",
            file=path,
            key=tensor.name,
            fix="convert the adapter with --outtype f16 or f32",
        )
    shape = tuple(int(size) for size in reversed(tensor.shape))
    data = np.asarray(tensor.data).view(np.uint8).reshape(-1)
    return QuantTensor(tensor.name, kind, shape, data).dequantize()


def _gguf_row_order(name: str, pair: LoraPair, config: DecoderConfig) -> LoraPair:
    """Q and K rows as convert_hf_to_gguf.py stores them for llama (its `permute`)."""
    heads = {"attn_q": config.num_heads, "attn_k": config.num_kv_heads}.get(name.split(".")[2])
    if heads is None:
        return pair
    rows = pair.b.shape[0]
    b = pair.b.reshape(heads, 2, rows // heads // 2, -1).swapaxes(1, 2).reshape(pair.b.shape)
    return LoraPair(pair.a, np.ascontiguousarray(b))


def _scaled(pair: LoraPair, scale: float) -> LoraPair:
    """The pair with `scale` folded into b, both rounded as ADAPTER_FORMAT stores them."""
    return LoraPair(_stored(pair.a), _stored(pair.b * np.float32(scale)))


def _stored(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16).astype(np.float32)


def _check_shapes(parts: Mapping[str, LoraPair], config: DecoderConfig, path: Path) -> None:
    shapes = weight_shapes(config)
    for name, pair in parts.items():
        block, part = int(name.split(".")[1]), name.split(".")[2]
        if part not in shapes or block >= config.num_layers:
            raise PagemindError(
                f"the adapter changes {name}, which the site's model does not have",
                file=path,
                key=name,
                fix="use an adapter trained on the site's model",
            )
        n_out, n_in = shapes[part]
        rank = pair.a.shape[0]
        if pair.a.ndim != 2 or pair.b.shape != (n_out, rank) or pair.a.shape[1] != n_in:
            raise PagemindError(
                f"{name}: lora_a {pair.a.shape} and lora_b {pair.b.shape} do not fit the "
                f"model's {(n_out, n_in)} weight (want ({rank}, {n_in}) and ({n_out}, {rank}))",
                file=path,
                key=name,
                fix="use an adapter trained on the site's model",
            )


def _fused(parts: Mapping[str, LoraPair], config: DecoderConfig) -> Adapter:
    """Pairs of the fused weights: each part's A stacked, its B in its own rows and columns."""
    shapes = weight_shapes(config)
    adapter: Adapter = {}
    for block, fused, part_names in _weights(config):
        present = [part for part in part_names if f"blk.{block}.{part}" in parts]
        if not present:
            continue
        pairs = [parts[f"blk.{block}.{part}"] for part in present]
        rows = [shapes[part][0] for part in part_names]
        b = np.zeros((sum(rows), sum(pair.rank for pair in pairs)), np.float32)
        column = 0
        for part, pair in zip(present, pairs, strict=True):
            first_row = sum(rows[: part_names.index(part)])
            b[first_row : first_row + pair.b.shape[0], column : column + pair.rank] = pair.b
            column += pair.rank
        a = np.concatenate([pair.a for pair in pairs]).astype(np.float32)
        adapter[f"blk.{block}.{fused}.weight"] = LoraPair(a, b)
    return adapter


def _weights(config: DecoderConfig) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(block, base weight, its parts) for every weight an adapter may change, in order."""
    for block in range(config.num_layers):
        yield block, "attn_qkv", FUSED_WEIGHTS["attn_qkv"]
        yield block, "attn_output", ("attn_output",)
        yield block, "ffn_gate_up", FUSED_WEIGHTS["ffn_gate_up"]
        yield block, "ffn_down", ("ffn_down",)


def _weight_order(name: str) -> tuple[int, int]:
    _, block, weight, _ = name.split(".")
    return int(block), ("attn_qkv", "attn_output", "ffn_gate_up", "ffn_down").index(weight)


def fused_shape(name: str, config: DecoderConfig) -> tuple[int, int]:
    """(n_out, n_in) of base weight `name` (blk.N.attn_qkv.weight...) as pagemind stores it."""
    weight = name.split(".")[2]
    shapes = weight_shapes(config)
    parts = FUSED_WEIGHTS.get(weight, (weight,))
    return sum(shapes[part][0] for part in parts), shapes[parts[0]][1]


def _required(file: Path) -> Path:
    if not file.is_file():
        raise PagemindError(
            f"the PEFT adapter folder has no {file.name}",
            file=file.parent,
            fix=f"point at the folder PEFT's save_pretrained wrote ({PEFT_CONFIG}, {PEFT_WEIGHTS})",
        )
    return file
