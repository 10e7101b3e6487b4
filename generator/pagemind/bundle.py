"""The assistant's files in a site's output: its two models as packages with their programs,
the shaders, and the settings file that the site's entry (pagemind.entry) names.

    _pagemind/assistant.<hash>.json    URLs of each model's manifest and program, settings
    _pagemind/models/<role>/           manifest.<hash>.json, <role>-<i>.<hash>.bin shards,
                                       program.<hash>.json (role: generator or embedder)
    _pagemind/models/generator/adapters/<name>/
                                       each [assistant] adapter's package (manifest, shard)
    _pagemind/shaders/*.wgsl           the kernels the programs name

Packages are written once per model source into <site root>/.pagemind-cache/models/<role>/,
keyed by the source's identity (path, size and mtime of its files), pagemind's version and
the bytes of the code that packs and compiles them. An output gets them by hard link (a
copy across file systems), so a rebuild, or a preview in a fresh folder, reads no model and
rewrites no shard. This module only says which files the output holds (an AssistantBundle);
the page builder writes them with the pages once the whole build has succeeded, and removes
those of an earlier build that it no longer writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pagemind import __version__
from pagemind.assistant import grounding_settings
from pagemind.config import SiteConfig
from pagemind.gpu.compile_model import compile_program
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.adapters import Adapter, adapter_ranks, adapter_tensors, read_adapter
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.package import (
    HASH_CHARS,
    AdapterPackage,
    AdapterSettings,
    PackageInfo,
    write_package,
)
from pagemind.models.registry import Role, load_model, resolve_model
from pagemind.models.safetensors_source import BertModel
from pagemind.resources import resource_dir
from pagemind.structure.output import Content, SourceFile

log = logging.getLogger("pagemind")

ASSISTANT_FORMAT = "pagemind-assistant/1"
BUNDLE_DIR = "_pagemind"
_ROLE_KEYS: dict[Role, str] = {"generator": "model", "embedder": "embedder"}
_RECORD = "package.json"
# The code a cached package and program come from (all imported by this module).
_COMPILER_MODULES = (
    "pagemind.models.gguf_source",  # fuses the decoder's projections
    "pagemind.models.architectures",
    "pagemind.models.safetensors_source",  # stores the embedder's matrices in its format
    "pagemind.models.tensors",
    "pagemind.models.package",
    "pagemind.models.adapters",
    "pagemind.gpu.kernels",
    "pagemind.gpu.program",
    "pagemind.gpu.compile_model",
    "pagemind.gpu.embedder_program",
    "pagemind.gpu.program_format",
)


ADAPTERS_DIR = "adapters"  # inside the generator's package folder
# A generator this large is packaged in a process of its own during a build (BundleInProgress).
SEPARATE_PROCESS_BYTES = 32 << 20


@dataclass(frozen=True)
class AdapterSource:
    """One [assistant] adapters entry: a LoRA GGUF or PEFT folder, and its scale."""

    name: str
    path: Path
    scale: float

    def read(self, model: GGUFModel) -> Adapter:
        return read_adapter(self.path, model.config, model.architecture, self.scale)


@dataclass(frozen=True)
class PreparedAdapter:
    """An adapter's package: files relative to the generator's package folder."""

    name: str
    manifest: str
    files: tuple[str, ...]
    download_bytes: int


@dataclass(frozen=True)
class PreparedPackage:
    """A model's package and program JSON, written in the cache folder `folder`."""

    role: Role
    source: Path
    bert_format: str  # the matrices' format when the source is a BERT folder
    folder: Path
    manifest: str  # file names inside `folder`
    program: str
    files: tuple[str, ...]
    download_bytes: int
    adapter_sources: tuple[AdapterSource, ...] = ()
    adapters: tuple[PreparedAdapter, ...] = ()

    @property
    def manifest_path(self) -> Path:
        return self.folder / self.manifest

    def load_source(self) -> GGUFModel | BertModel:
        """The model as packaged, from its source: the numpy reference of the package."""
        return load_model(self.source, self.bert_format)

    def load_adapters(self, model: GGUFModel) -> dict[str, Adapter]:
        """The site's adapters from their sources, by name (the references of their packages)."""
        return {source.name: source.read(model) for source in self.adapter_sources}


def prepare_packages(config: SiteConfig) -> list[PreparedPackage]:
    """The site's generator and embedder packaged in its cache (reused when unchanged)."""
    return [_prepare(*_package_arguments(config, role)) for role in _ROLE_KEYS]


def _package_arguments(config: SiteConfig, role: Role) -> tuple:
    """_prepare's arguments for one of the site's models."""
    adapters = tuple(
        AdapterSource(entry["name"], config.root / entry["path"], entry["scale"])
        for entry in config.assistant.adapters
    )
    return (
        role,
        _resolve(config, role),
        config.assistant.embedder_format,
        config.cache_dir / "models" / role,
        adapters if role == "generator" else (),
    )


@dataclass(frozen=True)
class AssistantBundle:
    """The assistant's files for a site's output, not written yet."""

    settings_path: str  # site-relative path of assistant.<hash>.json, which pages name
    files: dict[str, Content]  # site-relative name -> content
    # In the cache: the very package the index embeds with (None: a keyword-only index).
    embedder_manifest: Path | None

    def finished(self) -> AssistantBundle:
        """Itself: a bundle, unlike a BundleInProgress, is complete when made."""
        return self


def make_bundle(config: SiteConfig, packages: list[PreparedPackage]) -> AssistantBundle:
    """The assistant's files for the output: the packages (hard-linked from the cache), the
    shaders and the settings file."""
    files: dict[str, Content] = {
        f"{BUNDLE_DIR}/models/{package.role}/{name}": SourceFile(package.folder / name, link=True)
        for package in packages
        for name in (*package.files, *(f for a in package.adapters for f in a.files))
    }
    # Copied, not linked: a later edit of pagemind's own shaders must not change a built site.
    for shader in resource_dir("shaders").glob("*.wgsl"):
        files[f"{BUNDLE_DIR}/shaders/{shader.name}"] = SourceFile(shader)
    text = json.dumps(_assistant_settings(config, packages), indent=1).encode()
    settings_path = f"{BUNDLE_DIR}/assistant.{hashlib.sha256(text).hexdigest()[:HASH_CHARS]}.json"
    files[settings_path] = text
    embedder = next(package for package in packages if package.role == "embedder")
    return AssistantBundle(settings_path, files, embedder.manifest_path)


def bundle_assistant(config: SiteConfig) -> AssistantBundle | None:
    """prepare_packages then make_bundle; None when the assistant is off."""
    if not config.assistant.enabled:
        return None
    return make_bundle(config, prepare_packages(config))


class BundleInProgress:
    """The assistant's files while another process packages the generator: the embedder's
    package is ready at once, for the index to embed with; finished() waits for the rest.

    Packaging the generator (reading its GGUF file, writing its shards) is a second or two of
    pure Python, which a thread would hold the GIL for; in a process of its own it runs on the
    core that the build's parsing and chunking leave idle. An error in the generator's file
    is raised by finished(), once the pages are indexed."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self._arguments = _package_arguments(config, "generator")
        self._generator = _cached(*self._arguments) or _start(self._arguments)
        self.embedder = _prepare(*_package_arguments(config, "embedder"))

    @property
    def embedder_manifest(self) -> Path:
        return self.embedder.manifest_path

    def finished(self) -> AssistantBundle:
        if isinstance(self._generator, Future):
            try:
                self._generator = self._generator.result()
            except Exception:  # again here: its PagemindError loses file, key and fix in transit
                self._generator = _prepare(*self._arguments)
        return make_bundle(self.config, [self._generator, self.embedder])


def start_bundle(config: SiteConfig) -> BundleInProgress | None:
    """bundle_assistant, the generator packaged in another process meanwhile."""
    return BundleInProgress(config) if config.assistant.enabled else None


def _start(arguments: tuple) -> Future | PreparedPackage:
    """_prepare(*arguments) in a new process; here for a small model (a process takes half a
    second to start) or when no process can be started."""
    if sum(size for _, size, _ in source_identity(arguments[1])) < SEPARATE_PROCESS_BYTES:
        return _prepare(*arguments)
    log.info("Packaging the %s %s", *arguments[:2])
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    except (OSError, NotImplementedError, ImportError):  # no semaphores (some sandboxes)
        return _prepare(*arguments)
    future = pool.submit(_prepare, *arguments)
    pool.shutdown(wait=False)
    return future


def source_identity(path: Path) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of a model file, or of every file in a model folder."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [(str(file), (stat := file.stat()).st_size, stat.st_mtime_ns) for file in files]


def _resolve(config: SiteConfig, role: Role) -> Path:
    key = _ROLE_KEYS[role]
    return resolve_model(
        getattr(config.assistant, key),
        role,
        config.root,
        file=config.config_file,
        key=f"assistant.{key}",
    )


def _prepare(
    role: Role,
    source: Path,
    bert_format: str,
    folder: Path,
    adapter_sources: tuple[AdapterSource, ...],
) -> PreparedPackage:
    cached = _cached(role, source, bert_format, folder, adapter_sources)
    if cached is not None:
        return cached
    log.info("Packaging the %s %s", role, source)
    model = load_model(source, bert_format)
    info = write_package(model, folder, name=role)
    ranks, adapters = _write_adapters(model, adapter_sources, folder / ADAPTERS_DIR)
    program_json = program_to_dict(compile_program(model, ranks))
    text = json.dumps(program_json, separators=(",", ":")).encode()
    program = f"program.{hashlib.sha256(text).hexdigest()[:HASH_CHARS]}.json"
    _write_if_changed(folder / program, text)
    for stale in folder.glob("program.*.json"):
        if stale.name != program:
            stale.unlink()
    files = (info.manifest_path.name, *(path.name for path in info.shard_paths), program)
    package = PreparedPackage(
        role,
        source,
        bert_format,
        folder,
        info.manifest_path.name,
        program,
        files,
        info.download_bytes,
        adapter_sources,
        adapters,
    )
    fields = {"manifest", "program", "files", "download_bytes", "adapters"}
    saved = {k: v for k, v in dataclasses.asdict(package).items() if k in fields}
    key = _cache_key(source, bert_format, adapter_sources)
    _write_if_changed(folder / _RECORD, json.dumps({"key": key, "package": saved}).encode())
    return package


def _cache_key(source: Path, bert_format: str, adapter_sources: tuple[AdapterSource, ...]) -> list:
    key = [__version__, _compiler_fingerprint(), source_identity(source), bert_format]
    return key + [[a.name, source_identity(a.path), a.scale] for a in adapter_sources]


def _cached(
    role: Role,
    source: Path,
    bert_format: str,
    folder: Path,
    adapter_sources: tuple[AdapterSource, ...],
) -> PreparedPackage | None:
    """The package in `folder`, if its record says it comes from this very source and code."""
    try:
        record = json.loads((folder / _RECORD).read_text(encoding="utf-8"))
        key = _cache_key(source, bert_format, adapter_sources)
        if record["key"] != json.loads(json.dumps(key)):
            return None
        saved = record["package"]
        adapters = tuple(
            PreparedAdapter(**{**a, "files": tuple(a["files"])}) for a in saved["adapters"]
        )
        package = PreparedPackage(
            role,
            source,
            bert_format,
            folder,
            **{**saved, "files": tuple(saved["files"]), "adapters": adapters},
            adapter_sources=adapter_sources,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no usable record: package the model
    files = (*package.files, *(f for a in adapters for f in a.files))
    return package if all((folder / name).is_file() for name in files) else None


def _write_adapters(
    model: GGUFModel | BertModel, sources: tuple[AdapterSource, ...], folder: Path
) -> tuple[dict[str, int], tuple[PreparedAdapter, ...]]:
    """Each adapter's package in folder/<name>/, at the ranks the program reserves (the
    most any of them needs, per weight); those of adapters no longer listed are removed."""
    adapters = {source.name: source.read(model) for source in sources}
    ranks = adapter_ranks(list(adapters.values()))
    prepared = []
    for source in sources:
        tensors = adapter_tensors(adapters[source.name], ranks, model.config)
        package = AdapterPackage(AdapterSettings(source.name, source.scale), tensors)
        info = write_package(package, folder / source.name, name=source.name)
        prepared.append(_prepared_adapter(source.name, info))
    if folder.is_dir():
        for stale in folder.iterdir():
            if stale.name not in adapters:
                shutil.rmtree(stale)
    return ranks, tuple(prepared)


def _prepared_adapter(name: str, info: PackageInfo) -> PreparedAdapter:
    files = tuple(
        f"{ADAPTERS_DIR}/{name}/{path.name}" for path in (info.manifest_path, *info.shard_paths)
    )
    return PreparedAdapter(name, files[0], files, info.download_bytes)


def _compiler_fingerprint() -> str:
    """The bytes of the code that turns a model into its package and program: a cached
    program is reused only if it is what this code would compile (and the checks run)."""
    digest = hashlib.sha256()
    for name in _COMPILER_MODULES:
        digest.update(Path(sys.modules[name].__file__).read_bytes())
    return digest.hexdigest()


def _assistant_settings(config: SiteConfig, packages: list[PreparedPackage]) -> dict:
    """What the runtime reads first; URLs are relative to this file's folder."""
    settings = dataclasses.asdict(config.assistant)
    for key in ("enabled", "model", "embedder", "embedder_format", "adapters"):
        del settings[key]
    generator = next(package for package in packages if package.role == "generator")
    return {
        "format": ASSISTANT_FORMAT,
        "models": {
            package.role: {
                "manifest": f"models/{package.role}/{package.manifest}",
                "program": f"models/{package.role}/{package.program}",
                "download_bytes": package.download_bytes,
            }
            for package in packages
        },
        "adapters": [
            {
                "name": adapter.name,
                "manifest": f"models/generator/{adapter.manifest}",
                "download_bytes": adapter.download_bytes,
            }
            for adapter in generator.adapters
        ],
        "runtime": "runtime/",
        "shaders": "shaders/",
        "settings": settings,
        "grounding": grounding_settings(),
    }


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
