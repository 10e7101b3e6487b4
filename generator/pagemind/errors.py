"""The one error type pagemind reports to authors: where it is, what is wrong, how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class PagemindError(Exception):
    """An error in the author's input, printed without a traceback.

    `file`, `line` and `key` locate the problem; `fix` tells the author what to do.
    """

    message: str
    file: Path | str | None = None
    line: int | None = None
    key: str | None = None
    fix: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file) + (f":{self.line}" if self.line is not None else "")
        if self.key:
            where = f"{where}: {self.key}" if where else self.key
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text
