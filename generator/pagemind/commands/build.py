"""`pagemind build [DIR]`: write the static site."""

from __future__ import annotations

import argparse
from pathlib import Path

from pagemind.builder import SiteBuilder
from pagemind.commands.check import add_no_check_argument
from pagemind.config import SiteConfig, load_config
from pagemind.errors import PagemindError
from pagemind.structure.output import MANIFEST, OutputFolder


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
        "--clean",
        action="store_true",
        help="also remove the files in the output folder that the build did not write "
        "(only in a folder an earlier build made, unless --force)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --clean: empty an output folder that pagemind did not make, too",
    )
    add_no_check_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.dir, site_url=args.base_url, output=args.output, strict=args.strict)
    if args.clean and not args.force and not OutputFolder(config.site_dir).made_by_pagemind():
        raise PagemindError(
            f"{config.site_dir} holds files and no {MANIFEST}: pagemind did not make it, "
            "and --clean would delete what is in it",
            key="--clean",
            fix="build into a new folder with -o, or add --force to empty this one",
        )
    build_site(config, check=args.check, clean=args.clean)
    return 0


def build_site(config: SiteConfig, check: bool = True, clean: bool = False) -> None:
    """The assistant's packages and their GPU checks (skipped when they passed before with
    the same models, shaders and adapter), then the pages. Files are written only after all
    of it succeeded, the assistant's with the pages. clean: see SiteBuilder.build."""
    bundle = None
    if config.assistant.enabled:
        # Imported here: `pagemind --help` and the other commands do not load numpy and wgpu.
        from pagemind.bundle import make_bundle, prepare_packages, start_bundle

        if check:
            from pagemind.checks import check_site

            packages = prepare_packages(config)
            check_site(config, packages)
            bundle = make_bundle(config, packages)
        else:  # the generator is packaged while the pages are indexed
            bundle = start_bundle(config)
    SiteBuilder(config, assistant=bundle).build(clean=clean)
