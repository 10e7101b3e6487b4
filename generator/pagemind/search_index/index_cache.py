"""The last index `pagemind search` and `pagemind ask` made of a site's sources, kept in
<site root>/.pagemind-cache/index/ so that the next query of an unchanged site reads it
instead of parsing, chunking and embedding every page again.

    index.json              {"key", "description" (site.json's "index"), "embedder"}
    chunks.<hash>.json ...  the index files the description names (index_files.py)

The key is a digest of everything the index is made of: pagemind's version and code, the
config file, every file under docs_dir, the folders pages include snippets from and the
embedder's weights, each by path, size and modification time. Any edit gives another key,
and the next query indexes the site anew (embedding only what the embedding cache lacks).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from pagemind import __version__
from pagemind.config import SiteConfig
from pagemind.config.markdown_extensions import snippet_folders
from pagemind.errors import PagemindError
from pagemind.search_index.index_files import IndexFiles, LoadedIndex, parse_index

CACHE_FOLDER = ".pagemind-cache/index"  # under the site root
RECORD = "index.json"
PAGEMIND_CODE = Path(__file__).resolve().parents[1]


class IndexCache:
    """The saved index of one site, valid while its sources are unchanged."""

    def __init__(self, config: SiteConfig, embedder_source: Path | None) -> None:
        """embedder_source: the embedder's weights (a folder), None when the assistant is off."""
        self.folder = config.root / CACHE_FOLDER
        self.key = sources_key(config, embedder_source)

    def load(self) -> LoadedIndex | None:
        """The saved index, or None when it is missing, damaged or of other sources."""
        try:
            record = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
            if record["key"] != self.key:
                return None
            loaded = parse_index(record["description"], self._read, self.folder)
        except (OSError, ValueError, KeyError, TypeError, PagemindError):
            return None
        manifest = Path(record["embedder"]) if record["embedder"] else None
        if manifest is not None and not manifest.is_file():
            return None  # a build repackaged the embedder since
        return LoadedIndex(loaded.chunks, loaded.stats, loaded.vectors, manifest)

    def save(self, files: IndexFiles, embedder_manifest: Path | None) -> None:
        """Keep `files` (what SiteIndexer.update made); the record goes last, so a reader
        never finds a record whose files are not all there."""
        self.folder.mkdir(parents=True, exist_ok=True)
        names = {PurePosixPath(path).name: data for path, data in files.files.items()}
        for name, data in names.items():
            replace_file(self.folder / name, data)
        embedder = str(embedder_manifest) if embedder_manifest else None
        record = {"key": self.key, "description": files.description, "embedder": embedder}
        replace_file(self.folder / RECORD, json.dumps(record).encode())
        for stale in self.folder.iterdir():  # another process's .partial file is its own
            if stale.name not in {*names, RECORD} and not stale.name.endswith(".partial"):
                stale.unlink(missing_ok=True)

    def _read(self, path: str) -> bytes:
        """An index file by its path in the description ("index/chunks.<hash>.json")."""
        return (self.folder / PurePosixPath(path).name).read_bytes()


def sources_key(config: SiteConfig, embedder_source: Path | None) -> str:
    """A digest of pagemind's version and of every source file's path, size and mtime."""
    digest = hashlib.sha256(__version__.encode())
    for path in _sources(config, embedder_source):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _sources(config: SiteConfig, embedder_source: Path | None) -> Iterator[Path]:
    if config.config_file is not None:
        yield config.config_file
    yield from _files_under(config.docs_dir)
    for folder in snippet_folders(config.markdown.extensions):
        if config.docs_dir.is_relative_to(folder):  # such as the site's own folder
            yield from sorted(path for path in folder.iterdir() if path.is_file())
        elif not folder.is_relative_to(config.docs_dir):
            yield from _files_under(folder)
    if embedder_source is not None:
        yield from _files_under(embedder_source)
    yield from _files_under(PAGEMIND_CODE, "*.py")


def _files_under(path: Path, pattern: str = "*") -> list[Path]:
    """The file `path`, or the files in the folder `path` and below matching `pattern`."""
    if path.is_file():
        return [path]
    return sorted(file for file in path.rglob(pattern) if file.is_file())


def replace_file(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a name of this process's own, so that two builds or
    queries at once never mix their files."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
