"""`pagemind gh-deploy`: build the site and publish it on the gh-pages branch."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
from pathlib import Path

from pagemind import __version__
from pagemind.commands.check import add_no_check_argument

log = logging.getLogger(__name__)


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "gh-deploy",
        parents=parents,
        help="build the site and push it to the gh-pages branch",
        description="Build the site and commit it to a branch for GitHub Pages (gh-pages), "
        "then push that branch. Your working tree, index and current branch stay as they are.",
    )
    parser.add_argument("dir", nargs="?", default=".", type=Path, help="the site's folder")
    parser.add_argument(
        "-m",
        "--message",
        help="commit message (default: Deployed <sha> with pagemind <version>)",
    )
    parser.add_argument(
        "-b", "--remote-branch", default="gh-pages", help="branch to deploy to (default gh-pages)"
    )
    parser.add_argument(
        "-r", "--remote-name", default="origin", help="remote to push to (default origin)"
    )
    parser.add_argument("--force", action="store_true", help="deploy even with uncommitted changes")
    parser.add_argument("--cname", help="custom domain, written to the CNAME file")
    parser.add_argument(
        "--no-push", dest="push", action="store_false", help="commit to the branch, do not push"
    )
    add_no_check_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for the builder.
    from pagemind.commands.build import build_site
    from pagemind.config import load_config
    from pagemind.deploy import (
        DeployTarget,
        GitRepository,
        add_github_pages_files,
        check_can_deploy,
        publish,
    )
    from pagemind.structure.output import MANIFEST

    config = load_config(args.dir)
    repo = GitRepository(config.root)
    target = DeployTarget(args.remote_branch, args.remote_name, args.push, args.cname)
    outputs = [config.site_dir, config.cache_dir]
    check_can_deploy(repo, target, outputs=outputs, allow_uncommitted=args.force)
    with tempfile.TemporaryDirectory(prefix="pagemind-deploy-") as scratch:
        output = Path(scratch)
        # The author's site_dir is left alone: the deployed copy is built aside.
        build_site(dataclasses.replace(config, site_dir=output), check=args.check)
        # The builder's list of its own files is for its next build, not for readers.
        (output / MANIFEST).unlink(missing_ok=True)
        add_github_pages_files(output, target.cname)
        message = args.message or default_message(repo.source_revision())
        commit = publish(repo, output, target, message)
    where = f"{target.remote}/{target.branch}" if target.push else f"local branch {target.branch}"
    log.info("deployed %s to %s", commit[:12], where)
    return 0


def default_message(revision: str | None) -> str:
    source = f" {revision}" if revision else ""
    return f"Deployed{source} with pagemind {__version__}"
