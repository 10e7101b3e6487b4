"""Locate the folders that ship beside the Python package (runtime, shaders, theme)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return `runtime`, `shaders` or `site_templates`.

    An installed wheel carries them inside the package; a source checkout keeps them
    at the repository root, two levels above the package.
    """
    for candidate in (_PACKAGE / name, _PACKAGE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"pagemind resource folder {name!r} is missing; reinstall pagemind")
