"""`pagemind models list|inspect`: which models are at hand and what a reader downloads."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from gguf import GGUFReader

from pagemind.errors import PagemindError
from pagemind.models.gguf_source import stored_formats, unsupported_format
from pagemind.models.package import download_bytes, plan_shards
from pagemind.models.registry import DEFAULT_MODELS, load_model, locate_model, weights_size
from pagemind.models.tensors import FORMATS


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the default models, inspect a model",
        description="List the default models, or inspect a GGUF file or BERT folder.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list",
        parents=parents,
        help="the default models, installed or not, and the models in a site folder",
    )
    listing.add_argument(
        "folder", nargs="?", default=".", metavar="DIR", help="the site folder (default: .)"
    )
    listing.set_defaults(run=run_list)
    inspect = actions.add_parser(
        "inspect",
        parents=parents,
        help="architecture, tensor formats, whether the browser runs them, the reader's download",
    )
    inspect.add_argument(
        "model", metavar="PATH_OR_NAME", help="a default model name, a .gguf file or a folder"
    )
    inspect.set_defaults(run=run_inspect)


def run_list(args: argparse.Namespace) -> int:
    """One row per model: the defaults, then the GGUF files and model folders under DIR."""
    rows = [("NAME", "ROLE", "SIZE", "RUNTIME", "WHERE")]
    for model in DEFAULT_MODELS.values():
        path = model.path()
        if path is None:
            where = f"not installed: {model.install_command}"
            rows.append((model.name, model.role, "-", "-", where))
        else:
            size = megabytes(weights_size(path))
            rows.append((model.name, model.role, size, runtime_support(path), str(path)))
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        raise PagemindError(
            "no such folder", file=folder, fix="name the site folder, or run the command in it"
        )
    for path, role in site_models(folder):
        name = path.relative_to(folder).as_posix()
        size = megabytes(weights_size(path))
        rows.append((name, role, size, runtime_support(path), "site folder"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]).rstrip())
    return 0


def site_models(folder: Path) -> Iterator[tuple[Path, str]]:
    """(path, role) of each GGUF file and model folder under `folder`, hidden folders (the
    build cache, virtual environments) left out: GGUFs are generators or LoRA adapters,
    folders BERT embedders (config.json) or PEFT adapters (adapter_config.json)."""
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        here = Path(root)
        if "adapter_config.json" in files:
            yield here, "adapter"
        elif "config.json" in files and any(name.endswith(".safetensors") for name in files):
            yield here, "embedder"
        for name in sorted(files):
            if name.endswith(".gguf"):
                yield here / name, gguf_role(here / name)


def gguf_role(path: Path) -> str:
    try:
        field = GGUFReader(path).fields.get("general.type")
    except (ValueError, KeyError, IndexError, TypeError, OSError):  # runtime_support names it
        return "generator"
    return "adapter" if field is not None and field.contents() == "adapter" else "generator"


def runtime_support(path: Path) -> str:
    """ "yes" when the browser runs every tensor of a GGUF as stored (a folder's weights are
    converted at build time), else the first tensor it does not run, or the file's damage."""
    if path.is_dir():
        return "converted"
    try:
        unsupported = unsupported_tensors(stored_formats(path))
    except PagemindError:
        return "no: not a readable GGUF"
    if unsupported:
        name, kind = unsupported[0]
        return f"no: {name} is {kind}"
    return "yes"


def unsupported_tensors(stored: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
    """(name, type) of each stored tensor whose type the browser kernels do not run."""
    return [(name, kind) for name, kind, _ in stored if kind not in FORMATS]


def run_inspect(args: argparse.Namespace) -> int:
    path = locate_model(args.model, Path.cwd())
    print(f"model:         {path}")
    if path.is_file():  # a GGUF file: its tensor types first, which may stop the rest
        stored = stored_formats(path)
        unsupported = unsupported_tensors(stored)
        if unsupported:
            print_formats([(kind, size) for _, kind, size in stored])
            error = unsupported_format(*unsupported[0], path)
            print(f"runtime support: no, {len(unsupported)} tensors; the first: {error.message}")
            print(f"  fix: {error.fix}")
            return 1
    model = load_model(path)
    parameters = sum(math.prod(tensor.shape) for tensor in model.tensors.values())
    print(f"architecture:  {model.architecture}")
    print(f"parameters:    {parameters / 1e6:.1f} M")
    print("config:")
    for key, value in dataclasses.asdict(model.config).items():
        print(f"  {key}: {value}")
    if path.is_file():
        print_formats([(kind, size) for _, kind, size in stored])
    else:
        print_formats([(tensor.format, tensor.nbytes) for tensor in model.tensors.values()])
    print("runtime support: every tensor")
    shards = len(plan_shards(model.tensors))
    print(
        f"reader downloads: {megabytes(download_bytes(model, 'model'))} "
        f"({shards} shard{'s' if shards > 1 else ''} and a manifest, cached after the first "
        "visit)"
    )
    return 0


def print_formats(tensors: list[tuple[str, int]]) -> None:
    """One line per tensor format (of (format, stored bytes) pairs), most common first."""
    counts: Counter[str] = Counter(tensor_format for tensor_format, _ in tensors)
    sizes: Counter[str] = Counter()
    for tensor_format, size in tensors:
        sizes[tensor_format] += size
    print("tensor formats (as stored):")
    for tensor_format, count in counts.most_common():
        print(f"  {tensor_format:<5} {count:>4} tensors  {megabytes(sizes[tensor_format])}")


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
