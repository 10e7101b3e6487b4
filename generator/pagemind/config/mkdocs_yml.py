"""Read a MkDocs mkdocs.yml into the keys pagemind.toml uses, so MkDocs sites build unchanged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

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


class _TolerantLoader(yaml.SafeLoader):
    """mkdocs.yml may hold tags such as !!python/name or !ENV that only MkDocs resolves."""


def _ignore_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> None:
    return None


_TolerantLoader.add_multi_constructor("!", _ignore_tag)
_TolerantLoader.add_multi_constructor("tag:yaml.org,2002:python/", _ignore_tag)


def read_mkdocs_yml(text: str, path: Path) -> dict[str, Any]:
    """The pagemind config keys found in mkdocs.yml; other MkDocs keys are noted and skipped."""
    data = load_yaml(text, path, loader=_TolerantLoader, fix="correct the YAML syntax on that line")
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise PagemindError(
            "mkdocs.yml must be a mapping of key: value lines",
            file=path,
            fix="write it like site_name: My docs",
        )
    config = {key: data[key] for key in SHARED_KEYS if data.get(key) is not None}
    if isinstance(data.get("exclude_docs"), str):
        config["exclude"] = gitignore_to_globs(data["exclude_docs"])
    ignored = sorted(set(data) - set(SHARED_KEYS) - {"exclude_docs"})
    if ignored:
        log.info("%s: MkDocs keys pagemind ignores: %s", path.name, ", ".join(ignored))
    return config


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
