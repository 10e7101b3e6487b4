"""Watch source files and hand over each burst of changes once it has settled."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

CHANGE_EVENTS = {"created", "modified", "deleted", "moved"}
# Editors' swap and backup files (".index.md.swp", "index.md~") are not sources.
SCRATCH_SUFFIXES = ("~", ".swp", ".swx")


class ChangeWatcher:
    """Calls `on_changes(paths)` once no change has come for `settle` seconds.

    Calls happen one at a time on the watcher's own thread; changes made meanwhile wait
    for the next call.
    """

    def __init__(self, on_changes: Callable[[set[Path]], None], settle: float = 0.1) -> None:
        self._on_changes = on_changes
        self._settle = settle
        self._folders: tuple[Path, ...] = ()
        self._files: frozenset[Path] = frozenset()
        self._pending: set[Path] = set()
        self._last_change = 0.0
        self._stopped = False
        self._wakeup = threading.Condition()
        self._observer = Observer()
        self._handler = _Forwarder(self._record)
        self._thread = threading.Thread(target=self._deliver, name="pagemind-watch", daemon=True)

    def watch(self, targets: Iterable[Path]) -> None:
        """Watch these folders (with everything inside) and files, instead of the earlier ones."""
        targets = [target.resolve() for target in targets]
        folders = tuple(target for target in targets if target.is_dir())
        files = frozenset(target for target in targets if not target.is_dir())
        self._observer.unschedule_all()
        for folder in folders:
            self._observer.schedule(self._handler, str(folder), recursive=True)
        # A file is watched through its folder, so that deleting and re-creating it is seen.
        for parent in {file.parent for file in files} - set(folders):
            if parent.is_dir():
                self._observer.schedule(self._handler, str(parent), recursive=False)
        with self._wakeup:
            self._folders, self._files = folders, files

    def start(self) -> None:
        self._observer.start()
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with self._wakeup:
            self._stopped = True
            self._wakeup.notify_all()
        self._observer.stop()
        self._observer.join()
        self._thread.join()

    def _record(self, paths: Iterable[Path]) -> None:
        with self._wakeup:
            wanted = {path for path in paths if self._is_source(path)}
            if wanted:
                self._pending |= wanted
                self._last_change = time.monotonic()
                self._wakeup.notify_all()

    def _is_source(self, path: Path) -> bool:
        if path in self._files:
            return True
        folder = next((folder for folder in self._folders if path.is_relative_to(folder)), None)
        if folder is None:
            return False
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        return not hidden and not path.name.endswith(SCRATCH_SUFFIXES)

    def _deliver(self) -> None:
        while True:
            with self._wakeup:
                self._wakeup.wait_for(lambda: self._stopped or self._pending)
                while not self._stopped:
                    quiet_for = time.monotonic() - self._last_change
                    if quiet_for >= self._settle:
                        break
                    self._wakeup.wait(self._settle - quiet_for)
                if self._stopped:
                    return
                changes, self._pending = self._pending, set()
            self._on_changes(changes)


class _Forwarder(FileSystemEventHandler):
    """Turns watchdog's events into the paths they touch."""

    def __init__(self, record: Callable[[Iterable[Path]], None]) -> None:
        self._record = record

    def on_any_event(self, event: FileSystemEvent) -> None:
        # A folder's own "modified" only says its listing changed; the entries report themselves.
        if event.event_type not in CHANGE_EVENTS or (
            event.is_directory and event.event_type == "modified"
        ):
            return
        paths = (
            [event.src_path, event.dest_path] if event.event_type == "moved" else [event.src_path]
        )
        self._record(Path(os.fsdecode(path)) for path in paths)
