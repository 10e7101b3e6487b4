"""The preview's HTTP server: a built site under its base path, with live reload in every page."""

from __future__ import annotations

import errno
import http.server
import mimetypes
import os
import posixpath
import shutil
import sys
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pagemind.errors import PagemindError
from pagemind.preview.livereload import (
    CLIENT_SCRIPT,
    EVENTS_URL,
    SCRIPT_URL,
    LiveReload,
    inject_client,
)
from pagemind.service_worker import SERVICE_WORKER_NAME

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".wgsl": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".gguf": "application/octet-stream",
    ".bin": "application/octet-stream",
}

# The site's offline service worker would answer reloads from its caches, so the preview
# replaces it with one that has no fetch handler and removes itself (and any earlier one).
PREVIEW_SERVICE_WORKER = b"""\
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", () => self.registration.unregister());
"""

KEEPALIVE_SECONDS = 15.0

NOT_FOUND_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Not found</title></head>
<body><h1>Not found</h1><p>No page at this address in the preview.</p></body></html>"""


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class PreviewServer(http.server.ThreadingHTTPServer):
    """Serves `output_dir` at `base_path`, which an edit of the config may change."""

    daemon_threads = True

    def __init__(self, host: str, port: int, output_dir: Path, live: LiveReload) -> None:
        self.output_dir = output_dir
        self.base_path = "/"
        self.live = live
        try:
            super().__init__((host, port), PreviewHandler)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise PagemindError(
                    f"cannot listen on {host}:{port}: {error.strerror}",
                    key="--dev-addr",
                    fix="pass an address of this machine, e.g. --dev-addr 127.0.0.1:8000",
                ) from error
            raise PagemindError(
                f"port {port} on {host} is already in use",
                key="--dev-addr",
                fix=f"stop the other server or pick another port: --dev-addr {host}:{port + 1}",
            ) from error

    def handle_error(self, request: object, client_address: object) -> None:
        """Pages closed mid-download are routine; anything else is reported as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.base_path}"


class PreviewHandler(http.server.BaseHTTPRequestHandler):
    server: PreviewServer

    def do_GET(self) -> None:
        self.respond(send_body=True)

    def do_HEAD(self) -> None:
        self.respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the terminal is for build messages."""

    def respond(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        base = self.server.base_path
        if path == EVENTS_URL:
            self.stream_events()
        elif path == SCRIPT_URL:
            self.send(HTTPStatus.OK, "text/javascript; charset=utf-8", CLIENT_SCRIPT, send_body)
        elif path == base + SERVICE_WORKER_NAME:
            self.send(HTTPStatus.OK, content_type(Path(path)), PREVIEW_SERVICE_WORKER, send_body)
        elif path.startswith(base):
            self.send_site_file(path[len(base) :], send_body)
        elif path == "/" or path + "/" == base:
            self.redirect(base)
        else:
            self.send_not_found(send_body)

    def send_site_file(self, relative: str, send_body: bool) -> None:
        normalized = posixpath.normpath("/" + relative).lstrip("/")
        file = self.server.output_dir / normalized
        if file.is_dir():
            if relative and not relative.endswith("/"):
                self.redirect(self.server.base_path + relative + "/")
                return
            file = file / "index.html"
        if not file.is_file():
            self.send_not_found(send_body)
            return
        if file.suffix == ".html":
            page = inject_client(file.read_bytes(), self.server.live.state.build)
            self.send(HTTPStatus.OK, content_type(file), page, send_body)
            return
        with file.open("rb") as stream:
            # The size of the file opened: a rebuild may replace the path meanwhile.
            size = os.fstat(stream.fileno()).st_size
            self.send_headers(HTTPStatus.OK, content_type(file), size)
            if send_body:
                shutil.copyfileobj(stream, self.wfile)

    def send_not_found(self, send_body: bool) -> None:
        """The site's own 404 page when it has one; live reload runs there too."""
        page_404 = self.server.output_dir / "404.html"
        page = page_404.read_bytes() if page_404.is_file() else NOT_FOUND_PAGE
        page = inject_client(page, self.server.live.state.build)
        self.send(HTTPStatus.NOT_FOUND, "text/html; charset=utf-8", page, send_body)

    def redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send(self, status: HTTPStatus, kind: str, body: bytes, send_body: bool) -> None:
        self.send_headers(status, kind, len(body))
        if send_body:
            self.wfile.write(body)

    def send_headers(self, status: HTTPStatus, kind: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        # Every reload must show the latest build, never a cached copy.
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def stream_events(self) -> None:
        """Sends the build state now and at every change, until the page or server goes away."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        live = self.server.live
        state = live.state
        message = state.to_event()
        try:
            while True:
                self.wfile.write(message)
                self.wfile.flush()
                changed = live.wait_for_change(state, KEEPALIVE_SECONDS)
                if changed is None:
                    return
                # A comment line keeps the stream alive and finds pages that have gone.
                message = b": keepalive\n\n" if changed == state else changed.to_event()
                state = changed
        except (BrokenPipeError, ConnectionResetError):
            return
