"""Live reload for the preview: build state shared with open pages through server-sent events.

Each page is served with a small script (`livereload.js`) that knows which build it came
from. The script listens on the events endpoint; every message carries the current build
and error, so a page that missed a rebuild while it loaded still catches up.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from pagemind.errors import PagemindError

ENDPOINT = "/__pagemind__/"
EVENTS_URL = ENDPOINT + "events"
SCRIPT_URL = ENDPOINT + "livereload.js"
CLIENT_SCRIPT = Path(__file__).with_name("livereload.js").read_bytes()


@dataclass(frozen=True)
class BuildError:
    """What an open page shows about a failed build."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None
    fix: str | None = None

    @classmethod
    def from_exception(cls, error: BaseException, site_root: Path) -> BuildError:
        if not isinstance(error, PagemindError):
            return cls(
                message=f"internal error: {type(error).__name__}: {error}",
                fix="the terminal running `pagemind serve` shows the traceback",
            )
        return cls(
            message=error.message,
            file=_relative_to(error.file, site_root),
            line=error.line,
            key=error.key,
            fix=error.fix,
        )


@dataclass(frozen=True)
class BuildState:
    """`build` names the last good build; `error` is set while the latest build fails."""

    build: str
    error: BuildError | None = None

    def to_event(self) -> bytes:
        return b"event: state\ndata: " + json.dumps(asdict(self)).encode() + b"\n\n"


class LiveReload:
    """The build state, and a way for event streams to wait until it changes."""

    def __init__(self) -> None:
        # A server started later numbers its builds afresh; the prefix tells the two apart.
        self._prefix = f"{time.time_ns():x}"
        self._builds = 0
        self._state = BuildState(build=self._prefix)
        self._closed = False
        self._changed = threading.Condition()

    @property
    def state(self) -> BuildState:
        return self._state

    def succeeded(self) -> None:
        with self._changed:
            self._builds += 1
            self._state = BuildState(build=f"{self._prefix}-{self._builds}")
            self._changed.notify_all()

    def failed(self, error: BuildError) -> None:
        with self._changed:
            self._state = BuildState(build=self._state.build, error=error)
            self._changed.notify_all()

    def close(self) -> None:
        """Ends every event stream."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait_for_change(self, seen: BuildState, timeout: float) -> BuildState | None:
        """The state once it differs from `seen` (or `seen` after `timeout`); None once closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._state != seen, timeout)
            return None if self._closed else self._state


def inject_client(html: bytes, build: str) -> bytes:
    """Adds the live reload script to a page, just before `</body>` (or at the end)."""
    tag = (
        f'<script src="{SCRIPT_URL}" data-events="{EVENTS_URL}" data-build="{build}"></script>'
    ).encode()
    end = html.lower().rfind(b"</body>")
    if end < 0:
        return html + tag
    return html[:end] + tag + html[end:]


def _relative_to(file: Path | str | None, root: Path) -> str | None:
    if file is None:
        return None
    path = Path(file)
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
