"""Shared fixtures: a real Chromium with WebGPU on SwiftShader and a real static HTTP server."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from paths import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import sync_playwright


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and logs the tests leave behind."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page; fails the test on any console error."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


def serve_directory(root: Path, prefix: str = "/") -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `root` at `prefix` (e.g. "/repo/") on a free loopback port; returns server and URL."""
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"

    class Handler(_QuietHandler):
        def translate_path(self, path: str) -> str:
            if not path.startswith(prefix):
                return str(root / "__outside_prefix__")
            return super().translate_path("/" + path[len(prefix) :])

        def send_error(self, code: int, message: str | None = None, explain=None) -> None:
            """Like GitHub Pages: any missing URL gets the site's 404.html, at any depth."""
            not_found = root / "404.html"
            if code != 404 or not not_found.is_file():
                return super().send_error(code, message, explain)
            body = not_found.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    handler = functools.partial(Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}{prefix}"


@pytest.fixture
def static_server() -> Iterator:
    """Call with (root, prefix) to serve a built site; every server is shut down afterwards."""
    servers = []

    def start(root: Path, prefix: str = "/") -> str:
        server, url = serve_directory(root, prefix)
        servers.append(server)
        return url

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
