"""Find the pages and assets under docs_dir and the URL each one gets."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

INDEX_NAMES = ("index.md", "README.md")


@dataclass(frozen=True)
class DocsFiles:
    """Docs-relative POSIX paths: Markdown pages, files copied as they are, and links left
    out because they lead out of docs_dir."""

    pages: tuple[str, ...]
    assets: tuple[str, ...]
    outside_links: tuple[str, ...] = ()


def discover(
    docs_dir: Path, exclude: tuple[str, ...], follow_external_symlinks: bool = False
) -> DocsFiles:
    """The files of the site. Links inside docs_dir are followed, to files and folders; a
    link that leads out of it is left out unless `follow_external_symlinks`, or what it
    points to (the build machine's /etc/passwd, a home folder) would be published."""
    root = docs_dir.resolve()
    outside: list[Path] = []
    pages, assets = [], []
    for path in sorted(_walk(docs_dir, root, follow_external_symlinks, frozenset({root}), outside)):
        source = path.relative_to(docs_dir).as_posix()
        if not is_excluded(source, exclude):
            (pages if source.endswith(".md") else assets).append(source)
    links = (link.relative_to(docs_dir).as_posix() for link in sorted(outside))
    return DocsFiles(
        tuple(_drop_shadowed_readmes(pages)),
        tuple(assets),
        tuple(link for link in links if not is_excluded(link, exclude)),
    )


def _walk(
    folder: Path, root: Path, follow_outside: bool, seen: frozenset[Path], outside: list[Path]
) -> Iterator[Path]:
    """The files under `folder` that are not hidden; links that lead out of `root` go to
    `outside` instead, unless `follow_outside`. seen: the real folders on the way down, so
    a link back to one of them is not walked again."""
    for path in folder.iterdir():
        if is_hidden(path.name):
            continue
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # a broken link, or a loop of links
            continue
        if path.is_symlink() and not real.is_relative_to(root) and not follow_outside:
            outside.append(path)
        elif path.is_dir() and real not in seen:
            yield from _walk(path, root, follow_outside, seen | {real}, outside)
        elif path.is_file():
            yield path


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
    """Directory URLs, percent-encoded: "guide/install.md" -> "guide/install/",
    "guide/index.md" -> "guide/", "c#.md" -> "c%23/"."""
    folder, name = posixpath.split(source)
    if name in INDEX_NAMES:
        path = folder + "/" if folder else ""
    else:
        stem = name[: -len(".md")]
        path = f"{folder}/{stem}/" if folder else f"{stem}/"
    return url_path(path)


def url_path(path: str) -> str:
    """A site-relative file path as a URL path: every character but letters, digits, "-._~"
    and "/" percent-encoded (UTF-8), so "#", "?", "%", ":" and spaces stay part of the name
    and no name reads as a scheme ("javascript:...")."""
    return quote(path, safe="/")


def output_path(url: str) -> str:
    """The file a page URL is written to, relative to site_dir: its decoded path, the file a
    static host serves for it ("c%23/" -> "c#/index.html")."""
    return unquote(url) + "index.html"


def relative_url(target: str, from_url: str) -> str:
    """A site-relative URL `target` as seen from the page at `from_url` (both encoded), so
    sub-path hosting works."""
    up = "../" * from_url.count("/")
    return up + target or "./"
