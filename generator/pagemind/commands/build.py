"""`pagemind build [DIR]`: write the static site."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from pagemind.builder import SiteBuilder
from pagemind.config import SiteConfig, load_config
from pagemind.errors import PagemindError


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "build",
        parents=parents,
        help="build the static site",
        description="Build the site in DIR into its site_dir (default: DIR/site).",
    )
    parser.add_argument(
        "dir", nargs="?", default=".", type=Path, help="the site folder (default: .)"
    )
    parser.add_argument("-o", "--output", type=Path, help="output folder (overrides site_dir)")
    parser.add_argument(
        "--base-url", metavar="PATH", help="URL path the site is served under, e.g. /repo/"
    )
    parser.add_argument("--strict", action="store_true", default=None, help="fail on broken links")
    parser.add_argument(
        "--clean", action="store_true", help="empty the output folder before building"
    )
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        help="skip the GPU checks of the assistant's models (see `pagemind check`)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.dir, site_url=args.base_url, output=args.output, strict=args.strict)
    if args.clean and config.site_dir.is_dir():
        if config.root.is_relative_to(config.site_dir):
            raise PagemindError(
                f"--clean would delete the site's own sources: {config.site_dir}",
                fix="choose an output folder that is not the site folder or one above it",
            )
        shutil.rmtree(config.site_dir)
    build_site(config, check=args.check)
    return 0


def build_site(config: SiteConfig, check: bool = True) -> None:
    """The assistant's bundle, its GPU checks (skipped when they passed before with the
    same models, shaders and adapter), then the pages, which point to the bundle."""
    # Imported here: `pagemind --help` and the other commands do not load numpy and wgpu.
    from pagemind.bundle import prepare_packages, remove_bundle, write_bundle

    if not config.assistant.enabled:
        remove_bundle(config)
        SiteBuilder(config).build()
        return
    packages = prepare_packages(config)
    assistant = write_bundle(config, packages)
    if check:
        from pagemind.checks import check_site

        check_site(config, packages)
    SiteBuilder(config, assistant=assistant).build()
