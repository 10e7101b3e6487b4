"""The browser's model package: tensors packed into content-hashed shards plus a manifest.

Layout of `out_dir` for a package named `name`:

    <name>-<index>.<sha256[:12]>.bin   shards of at most 32 MiB (GitHub Pages refuses 100 MB)
    manifest.<sha256[:12]>.json        where every tensor lives, each shard's sha256, tokenizer

Each tensor starts at a 256-byte-aligned offset (WebGPU's minStorageBufferOffsetAlignment), so
the browser binds a tensor as a sub-range of a shard's buffer. A tensor is split across shards
only when it is larger than a shard; its entry then lists the parts. File names carry content
hashes: a rebuild rewrites no shard whose bytes did not change, and the reader's cache keeps it.

A LoRA adapter is a package of its own (AdapterPackage, architecture "lora"): the base
model's shards stay shared and cached while a reader switches adapters.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pagemind.errors import PagemindError
from pagemind.models.tensors import QuantTensor

FORMAT = "pagemind-model/1"
SHARD_BYTES = 32 * 1024 * 1024
ALIGNMENT = 256
HASH_CHARS = 12
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


class PackagedModel(Protocol):
    """What both model readers (GGUF decoder, BERT folder) give the packager."""

    architecture: str
    config: Any  # a dataclass
    tensors: dict[str, QuantTensor]
    tokenizer_spec: dict
    chat: dict | None


@dataclass(frozen=True)
class AdapterSettings:
    """What an adapter's manifest says of it: its name and the scale folded into it."""

    name: str
    scale: float


@dataclass(frozen=True)
class AdapterPackage:
    """An adapter's tensors (adapters.adapter_tensors) as a package for write_package."""

    config: AdapterSettings
    tensors: dict[str, QuantTensor]
    architecture: str = "lora"
    tokenizer_spec: dict = field(default_factory=dict)
    chat: dict | None = None


@dataclass(frozen=True)
class Placement:
    """Bytes [start, stop) of one tensor, stored at `offset` in shard number `shard`."""

    tensor: str
    shard: int
    offset: int
    start: int
    stop: int

    @property
    def end(self) -> int:
        return self.offset + self.stop - self.start


@dataclass(frozen=True)
class ShardFile:
    file: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PackageInfo:
    manifest_path: Path
    manifest: dict
    shard_paths: list[Path]
    shards_written: int  # shards whose bytes changed since the last write

    @property
    def download_bytes(self) -> int:
        return self.manifest["download_bytes"]


def write_package(model: PackagedModel, out_dir: Path, *, name: str) -> PackageInfo:
    """Write the package for `model` under `out_dir`; removes this name's stale files."""
    _check_name(name)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_shards(model.tensors)
    shards: list[ShardFile] = []
    shards_written = 0
    for index, placements in enumerate(plan):
        content = _shard_content(model.tensors, placements)
        digest = _sha256(content)
        shard = ShardFile(f"{name}-{index}.{digest[:HASH_CHARS]}.bin", len(content), digest)
        shards_written += _write_if_changed(out_dir / shard.file, content, digest)
        shards.append(shard)
    manifest = build_manifest(model, name, plan, shards)
    text = _manifest_text(manifest)
    digest = _sha256(text)
    manifest_path = out_dir / f"manifest.{digest[:HASH_CHARS]}.json"
    _write_if_changed(manifest_path, text, digest)
    shard_paths = [out_dir / shard.file for shard in shards]
    _remove_stale(out_dir, name, keep={manifest_path, *shard_paths})
    return PackageInfo(manifest_path, manifest, shard_paths, shards_written)


def read_package(
    manifest_path: Path, *, verify: bool = True
) -> tuple[dict, dict[str, QuantTensor]]:
    """Read a package back, its shards memory-mapped: a tensor's data is a view of its shard
    file, read from disk only where it is used. verify: check every shard's sha256 (reads
    every byte); without it, only their sizes (for packages this machine wrote itself)."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PagemindError(
            f"cannot read the model manifest: {error}", file=manifest_path
        ) from None
    if manifest.get("format") != FORMAT:
        raise PagemindError(
            f"not a {FORMAT} manifest (format {manifest.get('format')!r})",
            file=manifest_path,
            key="format",
            fix="rebuild the site with this version of pagemind",
        )
    shards = [
        _map_shard(manifest_path.parent, ShardFile(**shard), verify) for shard in manifest["shards"]
    ]
    tensors = {}
    for name, entry in manifest["tensors"].items():
        pieces = [
            shards[part["shard"]][part["offset"] : part["offset"] + part["bytes"]]
            for part in entry.get("parts", [entry])
        ]
        # A tensor in one shard stays a view of it; only a split one is joined (copied).
        data = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        tensors[name] = QuantTensor(
            name=name, format=entry["format"], shape=tuple(entry["shape"]), data=data
        )
    return manifest, tensors


def download_bytes(model: PackagedModel, name: str) -> int:
    """What a reader downloads for this model (shards and manifest), without writing anything."""
    # Hashes have a fixed length, so placeholders give the manifest its exact size.
    plan = plan_shards(model.tensors)
    shards = [
        ShardFile(f"{name}-{index}.{'0' * HASH_CHARS}.bin", placements[-1].end, "0" * 64)
        for index, placements in enumerate(plan)
    ]
    return build_manifest(model, name, plan, shards)["download_bytes"]


def plan_shards(tensors: dict[str, QuantTensor]) -> list[list[Placement]]:
    """Pack tensors in order; one that does not fit the current shard opens the next one."""
    shards: list[list[Placement]] = [[]]
    for name, tensor in tensors.items():
        size = tensor.nbytes
        offset = _aligned(shards[-1][-1].end) if shards[-1] else 0
        if offset + size > SHARD_BYTES and shards[-1]:
            shards.append([])
            offset = 0
        start = 0
        while True:  # only a tensor larger than a shard takes more than one turn
            stop = start + min(size - start, SHARD_BYTES - offset)
            shards[-1].append(Placement(name, len(shards) - 1, offset, start, stop))
            start = stop
            if start == size:
                break
            shards.append([])
            offset = 0
    return [placements for placements in shards if placements]


def build_manifest(
    model: PackagedModel, name: str, plan: list[list[Placement]], shards: list[ShardFile]
) -> dict:
    """The manifest for `plan` once its shards are hashed (see the module docstring)."""
    placements_of: dict[str, list[Placement]] = {}
    for placement in (p for placements in plan for p in placements):
        placements_of.setdefault(placement.tensor, []).append(placement)
    manifest = {
        "format": FORMAT,
        "name": name,
        "architecture": model.architecture,
        "config": dataclasses.asdict(model.config),
        "tensors": {
            tensor_name: _tensor_entry(tensor, placements_of[tensor_name])
            for tensor_name, tensor in model.tensors.items()
        },
        "shards": [dataclasses.asdict(shard) for shard in shards],
        "tokenizer": model.tokenizer_spec,
        "chat": model.chat,
        "download_bytes": 0,
    }
    shard_bytes = sum(shard.bytes for shard in shards)
    # The manifest counts its own size; the loop settles once the number's digits stop changing.
    while manifest["download_bytes"] != shard_bytes + len(_manifest_text(manifest)):
        manifest["download_bytes"] = shard_bytes + len(_manifest_text(manifest))
    return manifest


def _tensor_entry(tensor: QuantTensor, placements: list[Placement]) -> dict:
    parts = [{"shard": p.shard, "offset": p.offset, "bytes": p.stop - p.start} for p in placements]
    entry = {
        "format": tensor.format,
        "shape": list(tensor.shape),
        "shard": parts[0]["shard"],
        "offset": parts[0]["offset"],
        "bytes": tensor.nbytes,
    }
    if len(parts) > 1:  # the first part's shard and offset above, then the rest
        entry["parts"] = parts
    return entry


def _shard_content(tensors: dict[str, QuantTensor], placements: list[Placement]) -> bytes:
    content = np.zeros(placements[-1].end, dtype=np.uint8)  # alignment gaps stay zero
    for p in placements:
        content[p.offset : p.end] = tensors[p.tensor].data.reshape(-1)[p.start : p.stop]
    return content.tobytes()


def _map_shard(folder: Path, shard: ShardFile, verify: bool) -> np.ndarray:
    path = folder / shard.file
    try:
        size = path.stat().st_size
        content = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    except OSError:
        raise PagemindError(
            "a model shard named in the manifest is missing", file=path, fix="rebuild the site"
        ) from None
    if size != shard.bytes or (verify and _sha256(content) != shard.sha256):
        raise PagemindError(
            "the model shard does not match its sha256 in the manifest",
            file=path,
            fix="rebuild the site",
        )
    return np.asarray(content)  # a plain array viewing the mapping, which it keeps open


def _remove_stale(out_dir: Path, name: str, keep: set[Path]) -> None:
    """Delete shards and manifests an earlier write of this package left behind."""
    shard_name = re.compile(rf"{re.escape(name)}-\d+\.[0-9a-f]{{{HASH_CHARS}}}\.bin")
    for path in out_dir.iterdir():
        if path in keep:
            continue
        if shard_name.fullmatch(path.name) or _is_manifest_of(path, name):
            path.unlink()


def _is_manifest_of(path: Path, name: str) -> bool:
    if not re.fullmatch(rf"manifest\.[0-9a-f]{{{HASH_CHARS}}}\.json", path.name):
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("name") == name
    except (OSError, ValueError):
        return False


def _write_if_changed(path: Path, content: bytes, digest: str) -> bool:
    """Leave a file with the right bytes untouched (its mtime and the reader's cache stay)."""
    if path.is_file() and _sha256(path.read_bytes()) == digest:
        return False
    # Through a temporary name, so a preview server never serves half a file.
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)
    return True


def _manifest_text(manifest: dict) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode()


def _sha256(content: bytes | np.ndarray) -> str:
    return hashlib.sha256(content).hexdigest()


def _aligned(offset: int) -> int:
    return -(-offset // ALIGNMENT) * ALIGNMENT


def _check_name(name: str) -> None:
    if not PACKAGE_NAME.fullmatch(name):
        raise ValueError(f"package name {name!r} must match {PACKAGE_NAME.pattern}")
