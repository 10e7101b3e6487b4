"""Read a MkDocs mkdocs.yml into the keys pagemind.toml uses, so MkDocs sites build unchanged."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

from pagemind.config.markdown_extensions import CALLABLE_PACKAGES, UnresolvedName, python_callable
from pagemind.config.yaml_text import load_yaml
from pagemind.errors import PagemindError

log = logging.getLogger("pagemind")

# mkdocs.yml keys that mean the same in pagemind.toml.
SHARED_KEYS = (
    "site_name",
    "site_url",
    "site_description",
    "site_author",
    "repo_url",
    "edit_uri",
    "copyright",
    "docs_dir",
    "site_dir",
    "strict",
    "nav",
)


class _MkDocsLoader(yaml.SafeLoader):
    """mkdocs.yml's tags: `!ENV` reads environment variables, `!!python/name:` resolves to
    callables of Markdown's and pymdown-extensions' modules, `!!python/object/apply:` calls
    those of pymdown-extensions (custom fences, slug functions), as MkDocs reads them; other
    tags only MkDocs or its plugins resolve: they read as empty values. No other Python
    object is ever made."""


def _environment(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """`!ENV NAME`, or `!ENV [NAME, OTHER_NAME, default]`: the first variable set, its text
    typed as YAML types a plain value ("true" a boolean, "8000" a number); else the default
    (null without one)."""
    if isinstance(node, yaml.ScalarNode):
        names, default = [node], None
    elif isinstance(node, yaml.SequenceNode) and node.value:
        names = node.value[:-1] if len(node.value) > 1 else node.value
        default = loader.construct_object(node.value[-1]) if len(node.value) > 1 else None
    else:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            "!ENV takes a variable name or a list of names and a default",
            node.start_mark,
        )
    for name in (str(loader.construct_scalar(item)) for item in names):
        if name in os.environ:
            text = os.environ[name]
            tag = loader.resolve(yaml.ScalarNode, text, (True, False))
            return loader.construct_object(yaml.ScalarNode(tag, text))
    return default


def _ignore_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> None:
    return None


def _python_name(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    return python_callable(suffix)


def _python_apply(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    """`!!python/object/apply:pymdownx.slugs.slugify {kwds: {case: lower}}`: a callable of
    pymdown-extensions called with the arguments given."""
    function = python_callable(suffix, CALLABLE_PACKAGES)
    if isinstance(node, yaml.SequenceNode):
        args, kwds = loader.construct_sequence(node, deep=True), {}
    else:
        mapping = loader.construct_mapping(node, deep=True) if node.value else {}
        args, kwds = mapping.get("args", []), mapping.get("kwds", {})
    if isinstance(function, UnresolvedName):
        return function
    try:
        return function(*args, **kwds)
    except Exception as error:
        raise yaml.constructor.ConstructorError(
            None, None, f"{suffix} cannot be called with these arguments: {error}", node.start_mark
        ) from None


_MkDocsLoader.add_constructor("!ENV", _environment)
_MkDocsLoader.add_multi_constructor("!", _ignore_tag)
_MkDocsLoader.add_multi_constructor("tag:yaml.org,2002:python/name:", _python_name)
_MkDocsLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:", _python_apply)
_MkDocsLoader.add_multi_constructor("tag:yaml.org,2002:python/", _ignore_tag)


def read_mkdocs_yml(text: str, path: Path) -> dict[str, Any]:
    """The pagemind config keys found in mkdocs.yml; other MkDocs keys are noted and skipped."""
    data = load_yaml(text, path, loader=_MkDocsLoader, fix="correct the YAML syntax on that line")
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise PagemindError(
            "mkdocs.yml must be a mapping of key: value lines",
            file=path,
            fix="write it like site_name: My docs",
        )
    config = {key: data[key] for key in SHARED_KEYS if data.get(key) is not None}
    if data.get("markdown_extensions") is not None:
        config["markdown"] = {"extensions": _extension_list(data["markdown_extensions"], path)}
    if isinstance(data.get("exclude_docs"), str):
        config["exclude"] = gitignore_to_globs(data["exclude_docs"])
    ignored = sorted(set(data) - set(SHARED_KEYS) - {"exclude_docs", "markdown_extensions"})
    if ignored:
        log.info("%s: MkDocs keys pagemind ignores: %s", path.name, ", ".join(ignored))
    return config


def _extension_list(value: Any, path: Path) -> list | dict:
    if not isinstance(value, list | dict):
        raise PagemindError(
            f"markdown_extensions must be a list, got {value!r}",
            file=path,
            key="markdown_extensions",
            fix="list one extension a line: `  - pymdownx.tabbed`, options indented under it",
        )
    return value


def gitignore_to_globs(patterns: str) -> list[str]:
    """MkDocs' exclude_docs lines (gitignore style) as pagemind exclude globs."""
    globs = []
    for line in patterns.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        line = line.lstrip("/")
        globs.append(line + "**" if line.endswith("/") else line)
    return globs
