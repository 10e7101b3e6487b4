"""The offline service worker: `sw.js` at the site root, with this build's precache manifest.

The worker's code is site_templates/sw.js; the build injects one JSON object into it:

    {"version": "<hash of everything below>", "offline": "visited" | "all",
     "shell": "<hash of the theme files' names>",
     "precache": [["<site-relative URL>", "<sha256 of the file, 16 hex>"], ...],
     "models": ["_pagemind/models/<role>/<file>", ...],
     "index": {"manifest": "_pagemind/index/manifest.<hash>.json",
               "signs": "_pagemind/index/signs.<hash>.bin" | null} | null}

Precached: everything under `_pagemind/` but the models and the search index's shards,
fragments, vector groups and signs (so: runtime, shaders, theme, the index manifest,
assistant settings, site.json) and 404.html; with `offline = "all"` every page, docs file
and index file too. Index files that are not precached are kept as queries fetch them (a
search offline finds what the searches before it fetched); `index` names the files from
which the worker learns which of them this build still needs (a list of them all would
make sw.js grow with the site).
The runtime and site.json keep their names across builds, so each entry
carries its content hash: a new build's worker copies unchanged entries from the old one's
cache and downloads only what changed. Model files are cached as the reader's browser
fetches them (see runtime/loader.js), in one cache shared by every build; `models` tells the
worker which of them this build still needs. Pages are fetched network-first (see the
template), so only `version` has to change for the browser to install a new worker.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pagemind.resources import resource_dir
from pagemind.structure.files import url_path

SERVICE_WORKER_NAME = "sw.js"
OFFLINE_MODES = ("visited", "all")
BUNDLE_DIR = "_pagemind/"
MODELS_DIR = "_pagemind/models/"
INDEX_DIR = "_pagemind/index/"
# The index files a query fetches as it needs them (see search_index/index_files.py).
ON_DEMAND_INDEX = tuple(
    f"{INDEX_DIR}{name}" for name in ("terms/", "fragments/", "vectors/", "signs.")
)
THEME_DIR = "_pagemind/theme/"
_ALWAYS_PRECACHED = ("404.html",)
# Files of the output that a reader never requests.
_NOT_SERVED = (SERVICE_WORKER_NAME, "sitemap.xml", ".nojekyll", "CNAME")
_PARTIAL_SUFFIXES = (".tmp", ".partial")
_BUILD_MARKER = "/* @build */ null"
_REVISION_CHARS = 16


class ServiceWorkerWriter:
    """Writes sw.js after each build; remembers file hashes by size and mtime, so an
    incremental build hashes only the files it rewrote."""

    def __init__(self, offline: str) -> None:
        self.offline = offline
        self._hashes: dict[str, tuple[int, int, str]] = {}

    def write(self, site_dir: Path, outputs: set[str]) -> None:
        """`outputs`: the site-relative files the page builder owns; the assistant's bundle
        under _pagemind/ is found on disk."""
        bundle = site_dir / BUNDLE_DIR
        on_disk = (
            {path.relative_to(site_dir).as_posix() for path in bundle.rglob("*") if path.is_file()}
            if bundle.is_dir()
            else set()
        )
        files = sorted(
            name
            for name in outputs | on_disk
            if name not in _NOT_SERVED and not name.endswith(_PARTIAL_SUFFIXES)
        )
        models = [name for name in files if name.startswith(MODELS_DIR)]
        precache = [
            [_url_of(name), self._revision(site_dir, name)]
            for name in files
            if self._precached(name)
        ]
        theme = [name for name in files if name.startswith(THEME_DIR)]
        build = {
            "offline": self.offline,
            "shell": _digest(json.dumps(theme).encode()),
            "precache": precache,
            "models": models,
            "index": None if self.offline == "all" else _index_files(files),
        }
        template = (resource_dir("site_templates") / SERVICE_WORKER_NAME).read_text("utf-8")
        build["version"] = _digest(json.dumps(build, sort_keys=True).encode() + template.encode())
        if template.count(_BUILD_MARKER) != 1:
            raise RuntimeError(f"site_templates/{SERVICE_WORKER_NAME} lost its {_BUILD_MARKER}")
        code = template.replace(_BUILD_MARKER, json.dumps(build, separators=(",", ":")))
        target = site_dir / SERVICE_WORKER_NAME
        if not target.is_file() or target.read_text("utf-8") != code:
            partial = target.with_name(target.name + ".tmp")
            partial.write_text(code, "utf-8")
            partial.replace(target)

    def _precached(self, name: str) -> bool:
        if name.startswith(MODELS_DIR):
            return False
        if name.startswith(ON_DEMAND_INDEX):
            return self.offline == "all"
        return name.startswith(BUNDLE_DIR) or name in _ALWAYS_PRECACHED or self.offline == "all"

    def _revision(self, site_dir: Path, name: str) -> str:
        path = site_dir / name
        stat = path.stat()
        known = self._hashes.get(name)
        if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        revision = _digest(path.read_bytes())
        self._hashes[name] = (stat.st_size, stat.st_mtime_ns, revision)
        return revision


def _index_files(files: list[str]) -> dict | None:
    """This build's index manifest and signs file, None for a site without an index."""
    manifest = [name for name in files if name.startswith(f"{INDEX_DIR}manifest.")]
    signs = [name for name in files if name.startswith(f"{INDEX_DIR}signs.")]
    return {"manifest": manifest[0], "signs": signs[0] if signs else None} if manifest else None


def _url_of(name: str) -> str:
    """The URL a reader requests for an output file, encoded: pages by their directory URL."""
    if name == "index.html":
        return "./"
    return url_path(name.removesuffix("index.html") if name.endswith("/index.html") else name)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_REVISION_CHARS]
