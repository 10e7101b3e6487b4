"""`pagemind models list|inspect`: which models are at hand and what a reader downloads."""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections import Counter
from pathlib import Path

from pagemind.models.package import download_bytes, plan_shards
from pagemind.models.registry import DEFAULT_MODELS, load_model, locate_model, weights_size
from pagemind.models.tensors import QuantTensor


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
        "inspect", parents=parents, help="architecture, sizes and the reader's download"
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
    model = load_model(path)
    parameters = sum(math.prod(tensor.shape) for tensor in model.tensors.values())
    print(f"model:         {path}")
    print(f"architecture:  {model.architecture}")
    print(f"parameters:    {parameters / 1e6:.1f} M")
    print("config:")
    for key, value in dataclasses.asdict(model.config).items():
        print(f"  {key}: {value}")
    print("tensor formats:")
    for line in _format_summary(model.tensors):
        print(f"  {line}")
    shards = len(plan_shards(model.tensors))
    print(
        f"reader downloads: {megabytes(download_bytes(model, 'model'))} "
        f"({shards} shards and a manifest, cached after the first visit)"
    )
    return 0


def _format_summary(tensors: dict[str, QuantTensor]) -> list[str]:
    """One line per tensor format, most common first: count and stored bytes."""
    counts: Counter[str] = Counter(tensor.format for tensor in tensors.values())
    sizes: Counter[str] = Counter()
    for tensor in tensors.values():
        sizes[tensor.format] += tensor.nbytes
    return [
        f"{tensor_format:<5} {count:>4} tensors  {megabytes(sizes[tensor_format])}"
        for tensor_format, count in counts.most_common()
    ]


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
