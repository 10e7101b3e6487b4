"""The `pagemind` command line: one sub-command per module in `pagemind.commands`."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from pagemind import __version__
from pagemind.errors import PagemindError

# Each module defines `register(subparsers)`, which adds its parser and sets `run(args) -> int`.
COMMAND_MODULES = (
    "new",
    "build",
    "check",
    "serve",
    "gh_deploy",
    "models",
    "search",
    "ask",
    "feedback",
)

log = logging.getLogger("pagemind")


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The parser of the commands in `modules` (all of them for help and errors)."""
    parser = argparse.ArgumentParser(
        prog="pagemind",
        description="Build documentation sites with an in-browser AI assistant.",
    )
    parser.add_argument("--version", action="version", version=f"pagemind {__version__}")
    verbosity = argparse.ArgumentParser(add_help=False)
    group = verbosity.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    group.add_argument("-v", "--verbose", action="store_true", help="print every step")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in modules:
        module = importlib.import_module(f"pagemind.commands.{name}")
        module.register(subparsers, parents=[verbosity])
    return parser


def configure_logging(quiet: bool, verbose: bool) -> None:
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be caught
    except BrokenPipeError:
        # The reader of the output left (`pagemind ... | head`): stop quietly, and point
        # stdout at devnull so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(argv: list[str] | None) -> int:
    args = build_parser(_modules_for(sys.argv[1:] if argv is None else argv)).parse_args(argv)
    configure_logging(args.quiet, args.verbose)
    try:
        return args.run(args)
    except PagemindError as error:
        log.error("error: %s", error)
        return 1
    except BrokenPipeError:
        raise  # the reader of stdout left: main() ends quietly
    except OSError as error:  # a file that cannot be read or written, named without a traceback
        where = f"{error.filename}: " if error.filename else ""
        log.error("error: %s%s", where, error.strerror or error)
        return 1
    except KeyboardInterrupt:
        return 130


def _modules_for(argv: list[str]) -> Sequence[str]:
    """Only the named command's module, when the command line starts with one: the others
    import what they need at load (the builder, numpy), which `pagemind search` would wait
    for."""
    modules = {name.replace("_", "-"): name for name in COMMAND_MODULES}  # by command name
    return (modules[argv[0]],) if argv and argv[0] in modules else COMMAND_MODULES
