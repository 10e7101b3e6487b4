"""The Markdown extensions a site adds: mkdocs.yml's `markdown_extensions`, or `extensions`
in pagemind.toml's [markdown] table, read with MkDocs' semantics and checked once at load.

The list holds names or {name: options}; a name listed twice loads once, at its first place,
with the options of both. Each extension is built and run on a sample here, so a bad option
stops the build with the key that holds it instead of failing halfway through the pages.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markdown

from pagemind.errors import PagemindError

log = logging.getLogger("pagemind")

# Packages whose callables a config may name (`!!python/name:`), as MkDocs' configs do for
# custom fences and slug functions. Nothing else is imported from a tag.
TRUSTED_PACKAGES = ("markdown", "pymdownx")
# Those whose callables a config may call (`!!python/object/apply:`): pymdown-extensions'
# factories of slug functions and fence formats.
CALLABLE_PACKAGES = ("pymdownx",)
PYTHON_NAME_PREFIX = "!!python/name:"
SNIPPETS = "pymdownx.snippets"
_SAMPLE = "# Title\n\nText with `code`.\n\n```python\nx = 1\n```\n\n- item\n"

# Builds the error for one extension: (extension name, message, fix) -> the error to raise.
ExtensionError = Callable[[str, str, str], PagemindError]


@dataclass(frozen=True)
class UnresolvedName:
    """A `!!python/name:` naming a callable outside TRUSTED_PACKAGES, or nothing importable."""

    name: str


def python_callable(
    dotted: str, packages: tuple[str, ...] = TRUSTED_PACKAGES
) -> Callable | UnresolvedName:
    """The callable `package.module.name` names, when it lies in one of `packages`."""
    module_name, _, attribute = dotted.rpartition(".")
    if module_name.split(".")[0] not in packages:
        return UnresolvedName(dotted)
    try:
        value = getattr(importlib.import_module(module_name), attribute, None)
    except ImportError:
        return UnresolvedName(dotted)
    return value if callable(value) else UnresolvedName(dotted)


def load_extensions(
    value: list | dict, root: Path, where: str, error: ExtensionError
) -> list[tuple[str, dict[str, Any]]]:
    """The author's extensions as (name, options) in load order, each checked; those that
    cannot be imported are left out with one warning each. `where` names the key in
    warnings; relative snippet base paths are taken from `root`, the config's folder."""
    extensions: dict[str, dict[str, Any]] = {}
    for name, options in _entries(value, error):
        name = name.removeprefix("markdown.extensions.")
        extensions[name] = {**extensions.get(name, {}), **_resolved(options, name, where)}
    if SNIPPETS in extensions:
        extensions[SNIPPETS] = _snippet_options(extensions[SNIPPETS], root, error)
    return [
        (name, options)
        for name, options in extensions.items()
        if _loads(name, options, where, error)
    ]


def snippet_folders(extensions: list[tuple[str, dict[str, Any]]]) -> list[Path]:
    """The folders pymdownx.snippets reads included files from (none when it is off)."""
    options = dict(extensions).get(SNIPPETS, {})
    return [Path(base) for base in options.get("base_path", [])]


def _entries(value: list | dict, error: ExtensionError) -> list[tuple[str, dict]]:
    items = list(value.items()) if isinstance(value, dict) else value
    entries = []
    for item in items:
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item.items()))
        if isinstance(item, str):
            item = (item, {})
        if not (isinstance(item, tuple) and isinstance(item[0], str)):
            raise error(
                str(item),
                f"{item!r} is not an extension name or one {{name: options}} mapping",
                'list names, e.g. "pymdownx.tabbed", or {name: {option: value}} mappings',
            )
        name, options = item
        if not isinstance(options or {}, dict):
            raise error(
                name,
                f"the options of {name} must be a mapping of option: value, got {options!r}",
                "indent the options under the name, one `option: value` per line",
            )
        entries.append((name, options or {}))
    return entries


def _resolved(options: dict[str, Any], extension: str, where: str) -> dict[str, Any]:
    """Options with `!!python/name:` strings (TOML's way to name a callable) resolved; an
    option, or a list entry, naming a callable pagemind does not load is left out."""
    resolved = {}
    for key, value in options.items():
        value = _resolve_names(value)
        if isinstance(value, UnresolvedName):
            _warn_unloaded(where, extension, key, [value], "the extension's default is used")
        elif isinstance(value, list) and _unresolved_in(value):
            left_out = "the entries naming it are left out"
            _warn_unloaded(where, extension, key, _unresolved_in(value), left_out)
            resolved[key] = [item for item in value if not _unresolved_in(item)]
        else:
            resolved[key] = value
    return resolved


def _resolve_names(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(PYTHON_NAME_PREFIX):
        return python_callable(value.removeprefix(PYTHON_NAME_PREFIX))
    if isinstance(value, dict):
        return {key: _resolve_names(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_names(item) for item in value]
    return value


def _unresolved_in(value: Any) -> list[UnresolvedName]:
    if isinstance(value, UnresolvedName):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [name for item in items for name in _unresolved_in(item)]


def _warn_unloaded(
    where: str, extension: str, key: str, names: list[UnresolvedName], outcome: str
) -> None:
    packages = " and ".join(f"{package}.*" for package in TRUSTED_PACKAGES)
    named = ", ".join(sorted({name.name for name in names}))
    log.warning(
        "warning: %s: %s option %r names %s, which pagemind does not load (only %s); %s",
        where,
        extension,
        key,
        named,
        packages,
        outcome,
    )


def _snippet_options(options: dict[str, Any], root: Path, error: ExtensionError) -> dict:
    """MkDocs runs from the project's folder, so relative base paths start there: here they
    start at the config's folder, whatever the working directory."""
    base = options.get("base_path", ["."])
    bases = [base] if isinstance(base, str) else base
    if not (isinstance(bases, list) and all(isinstance(path, str) for path in bases)):
        raise error(
            SNIPPETS,
            f"base_path must be a folder or a list of folders, got {base!r}",
            'give folders relative to the config file, e.g. base_path: ["docs", "snippets"]',
        )
    return {**options, "base_path": [str((root / path).resolve()) for path in bases]}


def _loads(name: str, options: dict[str, Any], where: str, error: ExtensionError) -> bool:
    """Builds the extension and renders a sample with it. False (after one warning) when it
    cannot be imported; a PagemindError when its options are wrong."""
    md = markdown.Markdown()
    try:
        extension = md.build_extension(name, options)
    except ImportError as problem:
        log.warning(
            "warning: %s: %r cannot be imported (%s): pages render without it (it needs "
            "MkDocs itself or a package that is not installed)",
            where,
            name,
            problem.msg or problem,
        )
        return False
    except AttributeError as problem:
        if "makeExtension" not in str(problem):
            raise _option_error(name, problem, error) from None
        log.warning("warning: %s: %r is not a Markdown extension; it is skipped", where, name)
        return False
    except KeyError as problem:
        raise error(
            name,
            f"{name} has no option {problem.args[0]!r}",
            f"remove the option or correct its name ({name} knows: "
            f"{', '.join(_known_options(name))})",
        ) from None
    except Exception as problem:
        raise _option_error(name, problem, error) from None
    try:
        md.registerExtensions([extension], {})
        md.convert(_SAMPLE)
    except Exception as problem:
        raise _option_error(name, problem, error) from None
    return True


def _option_error(name: str, problem: Exception, error: ExtensionError) -> PagemindError:
    return error(
        name,
        f"{name} does not accept its options: {type(problem).__name__}: {problem}",
        f"correct the option values of {name} as its documentation describes",
    )


def _known_options(name: str) -> list[str]:
    return sorted(markdown.Markdown().build_extension(name, {}).getConfigs())
