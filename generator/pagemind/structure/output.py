"""The output folder: the one place a build writes files into and removes files from.

Every name is proven to stay inside the folder before a file is touched, so no manifest
entry, link or file name can make a build write or delete anything elsewhere. A build
lists the files it wrote in MANIFEST; the next build removes those it no longer writes.
A folder without a MANIFEST was not made by pagemind: a build adds its files to it and
removes none of the others.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pagemind.errors import PagemindError

MANIFEST = ".pagemind-files"
# Every file under it is pagemind's: removed when a build no longer writes it, listed or not.
OWN_FOLDER = "_pagemind"
_PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class SourceFile:
    """A file placed in the output as it is: copied, or hard-linked when `link` (model
    shards, shared with the model cache)."""

    path: Path
    link: bool = False


Content = bytes | SourceFile


class OutputFolder:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def made_by_pagemind(self) -> bool:
        """True when a build wrote the folder, or it holds nothing to lose."""
        if not self.root.is_dir():
            return True
        return (self.root / MANIFEST).is_file() or not any(self.root.iterdir())

    def place(self, files: Mapping[str, Content]) -> None:
        """Writes each file whose content differs (an unchanged file keeps its mtime). Every
        target is checked before the first write."""
        targets = {name: self._target(name) for name in files}
        for name, content in files.items():
            try:
                _place(content, targets[name])
            except OSError as error:
                raise PagemindError(
                    f"cannot write it: {error.strerror or error}",
                    file=targets[name],
                    fix="make the output folder writable, or free some disk space",
                ) from None

    def remove_stale(self, keep: set[str], everything: bool = False) -> list[str]:
        """Removes what an earlier build wrote and `keep` does not name (with `everything`:
        every file in the folder but `keep`); returns a warning for each name it refused
        because it leads out of the folder."""
        found = self._all_files() if everything else self._files_of_earlier_builds()
        refused = []
        for name in sorted(found - keep - {MANIFEST}):
            path = self._inside(name)
            if path is None:
                refused.append(f"{self.root}: not removing '{name}', which leads outside it")
            elif path.is_file() or path.is_symlink():
                _remove_with_empty_parents(path, self.root)
        return refused

    def write_manifest(self, names: set[str]) -> None:
        self.place({MANIFEST: "\n".join(sorted(names)).encode()})

    def _target(self, name: str) -> Path:
        path = self._inside(name)
        if path is None:
            raise PagemindError(
                f"'{name}' would be written outside the output folder {self.root}",
                fix="remove the link inside the output folder that leads out of it",
            )
        return path

    def _inside(self, name: str) -> Path | None:
        """root/name when it stays inside root: relative, no "..", and neither its folder nor
        the name itself a link that leads out."""
        relative = PurePosixPath(name)
        if not name or relative.is_absolute() or ".." in relative.parts:
            return None
        path = self.root / relative
        try:
            folder, real = path.parent.resolve(), path.resolve()
        except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
            return None
        inside = folder.is_relative_to(self.root) and real.is_relative_to(self.root)
        return folder / path.name if inside and real != self.root else None

    def _files_of_earlier_builds(self) -> set[str]:
        manifest = self.root / MANIFEST
        listed = manifest.read_text("utf-8", "replace").splitlines() if manifest.is_file() else []
        return set(listed) | self._all_files(self.root / OWN_FOLDER)

    def _all_files(self, folder: Path | None = None) -> set[str]:
        """Files and links under `folder` (default: the whole output), links not followed."""
        found = set()
        for parent, _, names in os.walk(folder or self.root):
            found |= {(Path(parent) / name).relative_to(self.root).as_posix() for name in names}
        return found


def _place(content: Content, target: Path) -> None:
    if _holds(target, content):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + _PARTIAL_SUFFIX)
    partial.unlink(missing_ok=True)
    if isinstance(content, bytes):
        partial.write_bytes(content)
    else:
        _copy(content, partial)
    os.replace(partial, target)


def _holds(target: Path, content: Content) -> bool:
    """Whether `target` is a plain file with `content`'s bytes. A copy must not be a hard
    link of its source, or a later edit of the source would change the built site."""
    if target.is_symlink() or not target.is_file():
        return False
    if isinstance(content, bytes):
        return target.stat().st_size == len(content) and target.read_bytes() == content
    if content.path.samefile(target):
        return content.link
    same_size = content.path.stat().st_size == target.stat().st_size
    return same_size and content.path.read_bytes() == target.read_bytes()


def _copy(source: SourceFile, target: Path) -> None:
    if source.link:
        try:
            os.link(source.path, target)
            return
        except OSError:  # another file system
            pass
    shutil.copyfile(source.path, target)


def _remove_with_empty_parents(path: Path, root: Path) -> None:
    path.unlink()
    folder = path.parent.resolve()
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
