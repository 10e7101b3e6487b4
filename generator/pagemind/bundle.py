"""The assistant's files in a site's output: its two models as packages with their programs,
the shaders, and the settings file that the site's entry (pagemind.entry) names.

    _pagemind/assistant.<hash>.json    URLs of each model's manifest and program, settings
    _pagemind/models/<role>/           manifest.<hash>.json, <role>-<i>.<hash>.bin shards,
                                       program.<hash>.json (role: generator or embedder)
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
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pagemind import __version__
from pagemind.assistant import grounding_settings
from pagemind.config import SiteConfig
from pagemind.gpu.compile_model import compile_program
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.package import HASH_CHARS, write_package
from pagemind.models.registry import Role, load_model, resolve_model
from pagemind.models.safetensors_source import BertModel
from pagemind.resources import resource_dir
from pagemind.structure.output import Content, SourceFile

log = logging.getLogger("pagemind")

ASSISTANT_FORMAT = "pagemind-assistant/1"
BUNDLE_DIR = "_pagemind"
CACHE_DIR = ".pagemind-cache"
_ROLE_KEYS: dict[Role, str] = {"generator": "model", "embedder": "embedder"}
_RECORD = "package.json"
# The code a cached package and program come from (all imported by this module).
_COMPILER_MODULES = (
    "pagemind.models.gguf_source",  # fuses the decoder's projections
    "pagemind.models.architectures",
    "pagemind.models.safetensors_source",  # stores the embedder's matrices in its format
    "pagemind.models.tensors",
    "pagemind.models.package",
    "pagemind.gpu.kernels",
    "pagemind.gpu.program",
    "pagemind.gpu.compile_model",
    "pagemind.gpu.embedder_program",
    "pagemind.gpu.program_format",
)


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

    @property
    def manifest_path(self) -> Path:
        return self.folder / self.manifest

    def load_source(self) -> GGUFModel | BertModel:
        """The model as packaged, from its source: the numpy reference of the package."""
        return load_model(self.source, self.bert_format)


def prepare_packages(config: SiteConfig) -> list[PreparedPackage]:
    """The site's generator and embedder packaged in its cache (reused when unchanged)."""
    folder = config.root / CACHE_DIR / "models"
    bert_format = config.assistant.embedder_format
    return [
        _prepare(role, _resolve(config, role), bert_format, folder / role) for role in _ROLE_KEYS
    ]


@dataclass(frozen=True)
class AssistantBundle:
    """The assistant's files for a site's output, not written yet."""

    settings_path: str  # site-relative path of assistant.<hash>.json, which pages name
    files: dict[str, Content]  # site-relative name -> content
    # In the cache: the very package the index embeds with (None: a keyword-only index).
    embedder_manifest: Path | None


def make_bundle(config: SiteConfig, packages: list[PreparedPackage]) -> AssistantBundle:
    """The assistant's files for the output: the packages (hard-linked from the cache), the
    shaders and the settings file."""
    files: dict[str, Content] = {
        f"{BUNDLE_DIR}/models/{package.role}/{name}": SourceFile(package.folder / name, link=True)
        for package in packages
        for name in package.files
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


def _prepare(role: Role, source: Path, bert_format: str, folder: Path) -> PreparedPackage:
    key = [__version__, _compiler_fingerprint(), source_identity(source), bert_format]
    record_path = folder / _RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record["key"] == json.loads(json.dumps(key)):
            saved = record["package"]
            package = PreparedPackage(
                role, source, bert_format, folder, **{**saved, "files": tuple(saved["files"])}
            )
            if all((folder / name).is_file() for name in package.files):
                return package
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no usable record: package the model
    log.info("Packaging the %s %s", role, source)
    model = load_model(source, bert_format)
    info = write_package(model, folder, name=role)
    text = json.dumps(program_to_dict(compile_program(model)), separators=(",", ":")).encode()
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
    )
    fields = {"manifest", "program", "files", "download_bytes"}
    saved = {k: v for k, v in dataclasses.asdict(package).items() if k in fields}
    _write_if_changed(record_path, json.dumps({"key": key, "package": saved}).encode())
    return package


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
    for key in ("enabled", "model", "embedder", "embedder_format"):
        del settings[key]
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
