"""The preview: build a site into a temporary folder, serve it, rebuild what its edits touch.

A failed build never stops the preview: the last good build stays online and open pages
show the error until an edit fixes it.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from pagemind.builder import SiteBuilder
from pagemind.config import CONFIG_NAME, MKDOCS_NAME, SiteConfig, load_config
from pagemind.config.markdown_extensions import snippet_folders
from pagemind.errors import PagemindError
from pagemind.preview.livereload import BuildError, LiveReload
from pagemind.preview.server import PreviewServer
from pagemind.preview.watch import ChangeWatcher
from pagemind.resources import resource_dir

if TYPE_CHECKING:
    from pagemind.bundle import AssistantBundle

log = logging.getLogger(__name__)

# Edits here change every page, so they rebuild the whole site.
SHARED_SOURCES = ("site_templates", "runtime")


class Preview:
    """A site built into a temporary folder and served on `host:port` (0: any free port)."""

    def __init__(self, site_root: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.site_root = Path(site_root).resolve()
        self.live = LiveReload()
        with contextlib.ExitStack() as undo:
            self.output_dir = Path(tempfile.mkdtemp(prefix="pagemind-preview-"))
            undo.callback(shutil.rmtree, self.output_dir, ignore_errors=True)
            # Listen first, so that a port in use is reported before a long build.
            self.server = PreviewServer(host, port, self.output_dir, self.live)
            undo.callback(self.server.server_close)
            self.config = self._load_config()
            self._release = undo.pop_all()
        self.server.base_path = self.config.base_path
        self.assistant = self._bundle_assistant()
        self.builder = SiteBuilder(self.config, self.assistant)
        self.watcher = ChangeWatcher(self.rebuild)
        self._shared = [resource_dir(name) for name in SHARED_SOURCES]
        # Changes a failed build did not apply; None: the whole site.
        self._unapplied: set[Path] | None = None
        self._serving = threading.Thread(
            target=self.server.serve_forever, name="pagemind-preview", daemon=True
        )

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        """Builds the site, then serves it and watches its sources (in background threads)."""
        self.rebuild(set())
        self.watcher.watch(self._sources())
        self.watcher.start()
        self._serving.start()

    def wait(self) -> None:
        """Blocks until Ctrl-C (KeyboardInterrupt) or `close()` from another thread."""
        self._serving.join()

    def close(self) -> None:
        """Stops serving and watching, and removes the temporary build."""
        self.watcher.stop()
        self.live.close()
        if self._serving.is_alive():
            self.server.shutdown()
        self._release.close()

    def rebuild(self, changed: set[Path]) -> None:
        """Rebuilds what `changed` (plus anything a failed build left) affects; never raises."""
        pending = None if self._unapplied is None else changed | self._unapplied
        try:
            self._build(pending)
        except Exception as error:
            if isinstance(error, PagemindError):
                log.error("error: %s", error)
            else:
                log.exception("internal error while building %s", self.site_root)
            self._unapplied = pending
            self.live.failed(BuildError.from_exception(error, self.site_root))
            return
        self._unapplied = set()
        self.server.base_path = self.config.base_path
        self.live.succeeded()

    def _build(self, changed: set[Path] | None) -> None:
        if changed is not None and any(map(self._is_config, changed)):
            self.config = self._load_config()
            self.builder = SiteBuilder(self.config, self.assistant)
            self.watcher.watch(self._sources())
            changed = None
        elif changed is not None and any(map(self._is_shared_or_snippet, changed)):
            changed = None
        self.builder.build(changed)

    def _bundle_assistant(self) -> AssistantBundle | None:
        """The assistant's files, packaged once at start (without the GPU checks) and written
        by each full build; the preview goes on without them when the models cannot be
        packaged."""
        from pagemind.bundle import bundle_assistant

        try:
            return bundle_assistant(self.config)
        except PagemindError as error:
            log.error("error: %s (the preview runs without the assistant)", error)
            return None

    def _load_config(self) -> SiteConfig:
        return load_config(self.site_root, output=self.output_dir)

    def _is_config(self, path: Path) -> bool:
        return path.parent == self.site_root and path.name in (CONFIG_NAME, MKDOCS_NAME)

    def _is_shared_or_snippet(self, path: Path) -> bool:
        """Templates, the runtime and files pages include (outside docs_dir) touch any page."""
        if path.is_relative_to(self.config.docs_dir):
            return False
        return any(path.is_relative_to(folder) for folder in self._shared + self._snippets())

    def _snippets(self) -> list[Path]:
        return snippet_folders(self.config.markdown.extensions)

    def _sources(self) -> list[Path]:
        configs = [self.site_root / CONFIG_NAME, self.site_root / MKDOCS_NAME]
        return [*configs, self.config.docs_dir, *self._shared, *self._snippet_sources()]

    def _snippet_sources(self) -> list[Path]:
        """Snippet folders outside docs_dir; one that holds docs_dir (such as the site's own
        folder) is watched through its top-level files only, not everything below it."""
        docs = self.config.docs_dir
        sources: list[Path] = []
        for folder in self._snippets():
            if docs.is_relative_to(folder):
                sources += [path for path in folder.iterdir() if path.is_file()]
            elif folder.is_dir() and not folder.is_relative_to(docs):
                sources.append(folder)
        return sources
