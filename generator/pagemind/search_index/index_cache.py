"""The last index `pagemind search` and `pagemind ask` made of a site's sources, kept in
<site root>/.pagemind-cache/index/ so that the next query of an unchanged site reads it
instead of parsing, chunking and embedding every page again.

    index.json     {"key", "description" (site.json's "index"), "embedder", "folder"}
    index/...      the index files the description names (index_files.py), unless "folder"
                   names where a build published them: its output's `_pagemind/`

A build's index is not copied: the record points at the output, whose files are
content-hashed, and each file read from there must still match the hash in its name (an
output rebuilt or removed since only costs the next query a fresh index).

The key is a digest of everything the index is made of: pagemind's version and code, the
config file, every file under docs_dir, the folders pages include snippets from and the
embedder's weights, each by path, size and modification time. Any edit gives another key,
and the next query indexes the site anew (embedding only what the embedding cache lacks).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from pagemind import __version__
from pagemind.config import SiteConfig
from pagemind.config.markdown_extensions import snippet_folders
from pagemind.errors import PagemindError
from pagemind.search_index.index_files import IndexFiles, LoadedIndex, parse_index
from pagemind.search_index.shards import content_hash

INDEX_CACHE = "index"  # in the site's cache folder
RECORD = "index.json"
PAGEMIND_CODE = Path(__file__).resolve().parents[1]


class IndexCache:
    """The saved index of one site, valid while its sources are unchanged."""

    def __init__(self, config: SiteConfig, embedder_source: Path | None) -> None:
        """embedder_source: the embedder's weights (a folder), None when the assistant is off."""
        self.folder = config.cache_dir / INDEX_CACHE
        self.key = sources_key(config, embedder_source)

    def load(self) -> LoadedIndex | None:
        """The saved index, or None when it is missing, damaged or of other sources."""
        try:
            record = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
            if record["key"] != self.key:
                return None
            published = record.get("folder")
            reader = _published_reader(Path(published)) if published else self._read
            loaded = parse_index(record["description"], reader, self.folder)
        except (OSError, ValueError, KeyError, TypeError, PagemindError):
            return None
        manifest = Path(record["embedder"]) if record["embedder"] else None
        if manifest is not None and not manifest.is_file():
            return None  # a build repackaged the embedder since
        return LoadedIndex(loaded.chunks, loaded.stats, loaded.vectors, manifest)

    def save(
        self, files: IndexFiles, embedder_manifest: Path | None, published: Path | None = None
    ) -> None:
        """Keep `files` (what SiteIndexer.update made), or with `published` (the output's
        `_pagemind/` a build wrote them into) only where they are. The record goes last, so
        a reader never finds a record whose files are not all there."""
        self.folder.mkdir(parents=True, exist_ok=True)
        kept = {} if published else {_bundle_path(name): data for name, data in files.files.items()}
        for path, data in kept.items():
            target = self.folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            replace_file(target, data)
        record = {
            "key": self.key,
            "description": files.description,
            "embedder": str(embedder_manifest) if embedder_manifest else None,
            "folder": str(published) if published else None,
        }
        replace_file(self.folder / RECORD, json.dumps(record).encode())
        self._remove_stale(set(kept))

    def _remove_stale(self, kept: set[str]) -> None:
        """Files of earlier indexes; another process's .partial file is its own."""
        for path in sorted(self.folder.rglob("*"), reverse=True):  # files before folders
            name = path.relative_to(self.folder).as_posix()
            if name in kept or name == RECORD or path.name.endswith(".partial"):
                continue
            if path.is_dir():
                with contextlib.suppress(OSError):  # not empty: another process's files
                    path.rmdir()
            else:
                path.unlink(missing_ok=True)

    def _read(self, path: str) -> bytes:
        """An index file by its path in the description ("index/terms/0.<hash>.json")."""
        return (self.folder / path).read_bytes()


def _bundle_path(site_path: str) -> str:
    """ "_pagemind/index/x.json" -> "index/x.json": paths as the description names them."""
    return PurePosixPath(site_path).relative_to("_pagemind").as_posix()


def _published_reader(bundle: Path) -> Callable[[str], bytes]:
    """Reads index files from a build's output, refusing any whose content no longer
    matches the hash in its name ("manifest.<hash>.json")."""

    def read(path: str) -> bytes:
        data = (bundle / path).read_bytes()
        if PurePosixPath(path).name.split(".")[-2] != content_hash(data):
            raise ValueError(f"{bundle / path} changed since the build that wrote it")
        return data

    return read


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
