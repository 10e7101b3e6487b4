"""A static host as GitHub Pages is one: a folder served under a sub-path, directory URLs
answered by their index.html, 404.html for missing files, Range requests honoured, and no
caching headers at all. It records every request, so tests and bench/offline_bytes.py count
what a reader's browser really downloads, and can break a download off halfway to test
resuming.
"""

from __future__ import annotations

import http.server
import posixpath
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Served:
    path: str  # site-relative, as requested: "guides/deploying/", "_pagemind/site.json"
    status: int
    bytes: int  # body bytes sent
    range: str | None  # the request's Range header


class StaticHost(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Node's fetch opens a connection per request at once: a backlog of 5 drops the rest,
    # whose clients retry a second later.
    request_queue_size = 128

    def __init__(self, root: Path, prefix: str = "/") -> None:
        self.root = Path(root)
        self.prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
        self.log: list[Served] = []
        self.cut_once: set[str] = set()  # site-relative paths whose next body breaks off
        self.honour_ranges = True  # False: answer Range requests with the whole file
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}{self.prefix}"

    def record(self, served: Served) -> None:
        with self._lock:
            self.log.append(served)

    def take_log(self) -> list[Served]:
        """The requests since the last call."""
        with self._lock:
            log, self.log = self.log, []
        return log

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: StaticHost

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if not path.startswith(self.server.prefix):
            self._send(404, "text/plain", b"outside the site", path)
            return
        relative = path[len(self.server.prefix) :]
        file = self.server.root / posixpath.normpath("/" + relative).lstrip("/")
        if file.is_dir() and relative and not relative.endswith("/"):
            self.send_response(301)
            self.send_header("Location", path + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.server.record(Served(relative, 301, 0, None))
            return
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            page_404 = self.server.root / "404.html"
            body = page_404.read_bytes() if page_404.is_file() else b"not found"
            self._send(404, "text/html", body, relative)
            return
        self._send_file(file, relative)

    def _send_file(self, file: Path, relative: str) -> None:
        data = file.read_bytes()
        kind = self.guess_type(str(file))
        requested = self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested or "")
        if match and self.server.honour_ranges and int(match[1]) < len(data):
            start = int(match[1])
            end = min(int(match[2]) if match[2] else len(data) - 1, len(data) - 1)
            headers = {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
            self._send(206, kind, data[start : end + 1], relative, headers)
            return
        self._send(200, kind, data, relative)

    def _send(
        self, status: int, kind: str, body: bytes, relative: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if relative in self.server.cut_once:
            self.server.cut_once.discard(relative)
            body = body[: len(body) // 2]
            self.close_connection = True
        # Recorded before the body goes out: once the browser has read it, a test may look.
        self.server.record(Served(relative, status, len(body), self.headers.get("Range")))
        self.wfile.write(body)
