"""`pagemind search` reads the index of an unchanged site back from .pagemind-cache/index/,
ranks with it exactly as with a fresh index, and sees every edit of what pages are made of."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pagemind.config import CACHE_FOLDER
from pagemind.search_index.index_cache import INDEX_CACHE
from site_helpers import run_cli, tiny_assistant_site, write_site

KEYWORD_SITE = {
    "pagemind.toml": """\
site_name = "Cached"

[assistant]
enabled = false

[markdown]
extensions = [{ "pymdownx.snippets" = { base_path = ["snippets"] } }]
""",
    "docs/index.md": '# Home\n\nSettings.\n\n--8<-- "note.md"\n',
    "docs/guide.md": "# Guide\n\nThe frobnicate switch.\n",
    "snippets/note.md": "The zorblax setting.\n",
}
ASSISTANT_PAGES = {
    "docs/install.md": "# Install\n\n## On Windows\n\nRun the installer, then reboot.\n",
    "docs/usage.md": "# Usage\n\nCall `demo.start()` once the settings are read.\n",
}
RESTART_QUERY = "my computer must be restarted after setup"


def search(root: Path, query: str, capsys) -> tuple[list[str], str]:
    """The URLs `pagemind search -v --json` prints, and its log."""
    capsys.readouterr()
    assert run_cli("search", "-v", "--json", root, query) == 0
    captured = capsys.readouterr()
    return [hit["url"] for hit in json.loads(captured.out)], captured.err


def edit(path: Path, text: str) -> None:
    """Write `text` with a later modification time, as an editor's save a moment later."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_an_unchanged_site_is_searched_from_the_cache(tmp_path, capsys) -> None:
    root = write_site(tmp_path, KEYWORD_SITE)
    first, log = search(root, "zorblax", capsys)
    assert first == ["#home"] and "read from" not in log
    again, log = search(root, "zorblax", capsys)
    assert again == first and "Search index: unchanged sources, read from" in log


def test_edits_of_pages_and_snippets_are_searched_at_once(tmp_path, capsys) -> None:
    root = write_site(tmp_path, KEYWORD_SITE)
    assert search(root, "quux", capsys)[0] == []

    edit(root / "snippets" / "note.md", "The quux setting.\n")
    assert search(root, "quux", capsys)[0] == ["#home"]
    assert search(root, "zorblax", capsys)[0] == []

    edit(root / "docs" / "guide.md", "# Guide\n\nThe quux switch as well.\n")
    assert sorted(search(root, "quux", capsys)[0]) == ["#home", "guide/#guide"]

    (root / "docs" / "guide.md").unlink()
    assert search(root, "quux", capsys)[0] == ["#home"]


def test_the_cached_index_ranks_as_a_fresh_one(tmp_path, capsys) -> None:
    root = write_site(tiny_assistant_site(tmp_path), ASSISTANT_PAGES)
    assert run_cli("search", "--json", root, RESTART_QUERY) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert run_cli("search", "-v", "--json", root, RESTART_QUERY) == 0
    captured = capsys.readouterr()
    assert "read from" in captured.err
    assert json.loads(captured.out) == fresh  # the same sections, scores to the last digit
    assert fresh[0]["url"] == "install/#on-windows"


def test_a_built_site_is_searched_without_indexing_it_again(tmp_path, capsys) -> None:
    root = write_site(tmp_path, KEYWORD_SITE)
    assert run_cli("build", root) == 0
    urls, log = search(root, "zorblax", capsys)
    assert urls == ["#home"] and "Search index: unchanged sources, read from" in log

    edit(root / "docs" / "guide.md", "# Guide\n\nThe zorblax switch too.\n")  # after the build
    urls, log = search(root, "zorblax", capsys)
    assert sorted(urls) == ["#home", "guide/#guide"] and "read from" not in log


def test_the_index_a_build_keeps_ranks_as_a_fresh_one(tmp_path, capsys) -> None:
    root = write_site(tiny_assistant_site(tmp_path), ASSISTANT_PAGES)
    assert run_cli("build", root, "--no-check") == 0
    built, log = search(root, RESTART_QUERY, capsys)
    assert "read from" in log and built[0] == "install/#on-windows"
    (root / CACHE_FOLDER / INDEX_CACHE / "index.json").unlink()
    assert search(root, RESTART_QUERY, capsys)[0] == built


def test_a_build_points_at_its_index_and_a_changed_output_is_not_trusted(tmp_path, capsys):
    root = write_site(tmp_path, KEYWORD_SITE)
    assert run_cli("build", root) == 0
    cache = root / CACHE_FOLDER / INDEX_CACHE
    assert [path.name for path in cache.iterdir()] == ["index.json"], "the index is not copied"

    # A hand-edited output file no longer matches the hash in its name: indexed anew.
    published = sorted((root / "site" / "_pagemind" / "index").rglob("*.json"))
    published[0].write_bytes(published[0].read_bytes() + b" ")
    urls, log = search(root, "zorblax", capsys)
    assert urls == ["#home"] and "read from" not in log
    assert (cache / "index").is_dir(), "that query kept its own copy"

    # An output removed after a build: indexed anew as well.
    assert run_cli("build", root) == 0
    shutil.rmtree(root / "site")
    urls, log = search(root, "zorblax", capsys)
    assert urls == ["#home"] and "read from" not in log
