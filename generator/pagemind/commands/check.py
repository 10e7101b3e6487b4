"""`pagemind check [DIR]`: the GPU pre-build checks of the site's models, alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from pagemind.config import load_config
from pagemind.errors import PagemindError


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "check",
        parents=parents,
        help="check the shaders and the assistant's models on this machine's GPU",
        description="Compile every shader, check each kernel against numpy and run the "
        "site's model programs against the numpy reference, on the WebGPU adapter wgpu-py "
        "finds (Mesa's lavapipe on a machine without a GPU). `pagemind build` runs the same "
        "checks, skipped when they passed before with the same models, shaders and adapter.",
    )
    parser.add_argument("dir", nargs="?", default=".", type=Path, help="the site folder")
    parser.add_argument(
        "--shaders",
        type=Path,
        metavar="DIR",
        help="check the WGSL files in DIR instead of the shaders pagemind ships",
    )
    parser.set_defaults(run=run)


def add_no_check_argument(parser: argparse.ArgumentParser) -> None:
    """`--no-check`, for the commands that build (`args.check` is False when given)."""
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip the GPU checks of the assistant's models (see `pagemind check`)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for numpy and wgpu.
    from pagemind.bundle import prepare_packages
    from pagemind.checks import check_site

    if args.shaders is not None and not args.shaders.is_dir():
        raise PagemindError(
            f"no such folder: {args.shaders}",
            key="--shaders",
            fix="give the folder holding the .wgsl files",
        )
    config = load_config(args.dir)
    shader_dir = args.shaders.resolve() if args.shaders else None
    check_site(config, prepare_packages(config), shader_dir=shader_dir, reuse_pass=False)
    return 0
