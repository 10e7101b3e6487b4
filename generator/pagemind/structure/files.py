"""Find the pages and assets under docs_dir and the URL each one gets."""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass
from pathlib import Path

INDEX_NAMES = ("index.md", "README.md")


@dataclass(frozen=True)
class DocsFiles:
    """Docs-relative POSIX paths: Markdown pages and files copied as they are."""

    pages: tuple[str, ...]
    assets: tuple[str, ...]


def discover(docs_dir: Path, exclude: tuple[str, ...]) -> DocsFiles:
    pages, assets = [], []
    for path in sorted(docs_dir.rglob("*")):
        source = path.relative_to(docs_dir).as_posix()
        if not path.is_file() or is_hidden(source) or is_excluded(source, exclude):
            continue
        (pages if source.endswith(".md") else assets).append(source)
    return DocsFiles(tuple(_drop_shadowed_readmes(pages)), tuple(assets))


def is_hidden(source: str) -> bool:
    return any(part.startswith(".") for part in source.split("/"))


def is_excluded(source: str, exclude: tuple[str, ...]) -> bool:
    """Globs match the docs-relative path; a glob without "/" also matches any file name."""
    name = posixpath.basename(source)
    return any(
        fnmatch.fnmatchcase(source, glob) or ("/" not in glob and fnmatch.fnmatchcase(name, glob))
        for glob in exclude
    )


def _drop_shadowed_readmes(pages: list[str]) -> list[str]:
    """index.md wins over README.md in the same folder (both would claim the folder URL)."""
    present = set(pages)
    return [
        page
        for page in pages
        if not (
            posixpath.basename(page) == "README.md"
            and posixpath.join(posixpath.dirname(page), "index.md") in present
        )
    ]


def page_url(source: str) -> str:
    """Directory URLs: "guide/install.md" -> "guide/install/", "guide/index.md" -> "guide/"."""
    folder, name = posixpath.split(source)
    if name in INDEX_NAMES:
        return folder + "/" if folder else ""
    stem = name[: -len(".md")]
    return f"{folder}/{stem}/" if folder else f"{stem}/"


def output_path(url: str) -> str:
    """The file a page URL is written to, relative to site_dir."""
    return url + "index.html"


def relative_url(target: str, from_url: str) -> str:
    """A site-relative target as seen from the page at `from_url`, so sub-path hosting works."""
    up = "../" * from_url.count("/")
    return up + target or "./"
