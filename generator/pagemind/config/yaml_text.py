"""YAML as authors write it (mkdocs.yml, front matter): every failure names the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pagemind.errors import PagemindError


def load_yaml(
    text: str,
    path: Path,
    *,
    loader: type = yaml.SafeLoader,
    first_line: int = 1,
    what: str = "YAML",
    fix: str,
) -> Any:
    """The YAML document in `text`, which starts at line `first_line` of `path`; `what` names
    it in messages."""
    try:
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = first_line + mark.line if mark else None
        raise PagemindError(
            f"invalid {what}: {error.problem}", file=path, line=line, fix=fix
        ) from None
    except yaml.reader.ReaderError as error:
        line = first_line + text.count("\n", 0, error.position)
        raise PagemindError(
            f"invalid {what}: control character U+{error.character:04X} is not allowed",
            file=path,
            line=line,
            fix="remove the control character (YAML allows tabs and newlines only)",
        ) from None
    except yaml.YAMLError as error:
        raise PagemindError(f"invalid {what}: {error}", file=path, fix=fix) from None
    except RecursionError:
        raise PagemindError(
            f"the {what} is nested too deeply to read",
            file=path,
            fix="flatten the nested lists or mappings",
        ) from None
