"""`pagemind models list|inspect`: which models are at hand and what a reader downloads."""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections import Counter
from pathlib import Path

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
        "list", parents=parents, help="the default models, installed or not"
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
    rows = [("NAME", "ROLE", "SIZE", "WHERE")]
    for model in DEFAULT_MODELS.values():
        path = model.path()
        if path is None:
            rows.append((model.name, model.role, "-", f"not installed: {model.install_command}"))
        else:
            rows.append((model.name, model.role, megabytes(weights_size(path)), str(path)))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]))
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    path = locate_model(args.model, Path.cwd())
    print(f"model:         {path}")
    if path.is_file():  # a GGUF file: its tensor types first, which may stop the rest
        stored = stored_formats(path)
        unsupported = [(name, kind) for name, kind, _ in stored if kind not in FORMATS]
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
        f"({shards} shards and a manifest, cached after the first visit)"
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
