"""`pagemind serve`: preview a site on localhost, rebuilt and reloaded as it is edited."""

from __future__ import annotations

import argparse
import logging
import signal
import webbrowser
from pathlib import Path

from pagemind.errors import PagemindError

log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1:8000"


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=parents,
        help="preview the site with live reload",
        description="Build the site into a temporary folder, serve it on localhost and "
        "rebuild and reload open pages as its files change.",
    )
    parser.add_argument("dir", nargs="?", default=".", type=Path, help="the site's folder")
    parser.add_argument(
        "-a",
        "--dev-addr",
        default=DEFAULT_ADDRESS,
        metavar="HOST:PORT",
        help=f"where to listen (default {DEFAULT_ADDRESS}; port 0 picks a free one)",
    )
    parser.add_argument("--open", action="store_true", help="open the site in a web browser")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for the builder and watchdog.
    from pagemind.preview import Preview

    host, port = parse_address(args.dev_addr)
    preview = Preview(args.dir, host, port)
    # Stopped by a process manager, the preview cleans up as after Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        preview.start()
        log.info("serving %s (Ctrl-C to stop)", preview.url)
        if args.open:
            webbrowser.open(preview.url)
        preview.wait()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        preview.close()
    return 0


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_address(address: str) -> tuple[str, int]:
    """Splits HOST:PORT: "127.0.0.1:8000" -> ("127.0.0.1", 8000)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise PagemindError(
            f"{address!r} is not HOST:PORT",
            key="--dev-addr",
            fix=f"write the address like --dev-addr {DEFAULT_ADDRESS}",
        )
    return host, int(port)
