"""The CLI as the tests run it."""

from __future__ import annotations

from pathlib import Path

from pagemind import cli


def run_cli(*argv: str | Path) -> int:
    """`pagemind ...` as the command line runs it; returns the exit code."""
    return cli.main([str(arg) for arg in argv])
