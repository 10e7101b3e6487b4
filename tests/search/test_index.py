"""Index files in the build output, incremental updates, and `pagemind search`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pagemind import cli
from pagemind.config import load_config
from pagemind.errors import PagemindError
from pagemind.search_index import SiteIndex
from search_site import build, write_site


def _index_description(site: Path) -> dict:
    return json.loads((site / "_pagemind" / "site.json").read_text())["index"]


def test_index_files_are_content_hashed_and_named_in_site_json(tmp_path: Path) -> None:
    build(write_site(tmp_path))
    index = _index_description(tmp_path / "site")
    bundle = tmp_path / "site" / "_pagemind"

    assert index["format"] == "pagemind-index/3"
    assert index["vectors"] is None  # the assistant is off: keyword-only
    manifest = json.loads((bundle / index["manifest"]).read_text())
    for folder in ("terms", "fragments"):
        for number, digest in enumerate(manifest[folder]["files"]):
            path = bundle / "index" / folder / f"{number}.{digest}.json"
            assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] == digest
    fragments = bundle.glob("index/fragments/*.json")
    chunks = [chunk for path in fragments for chunk in json.loads(path.read_text())["chunks"]]
    assert index["count"] == len(chunks) == 6


def test_incremental_build_updates_the_index_and_removes_stale_files(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    builder = build(root)
    before = _index_description(root / "site")
    chunked = builder._indexer.pages_chunked

    page = root / "docs" / "install.md"
    page.write_text(page.read_text() + "\n## Upgrading\n\nRun the frobnicate command.\n")
    builder.build({page})

    after = _index_description(root / "site")
    assert builder._indexer.pages_chunked == chunked + 1  # only the edited page
    bundle = root / "site" / "_pagemind"
    files = {p.relative_to(bundle).as_posix() for p in bundle.glob("index/**/*") if p.is_file()}
    assert files == _named_files(bundle, after)
    assert after["manifest"] != before["manifest"]
    hits = SiteIndex.load(root / "site").search("frobnicate", k=1)
    assert [hit.url for hit in hits] == ["install/#upgrading"]

    (root / "docs" / "legal.md").unlink()  # a removed page leaves the index
    builder.build({root / "docs" / "legal.md"})
    assert not SiteIndex.load(root / "site").search("zorblax", k=3)


def _named_files(bundle: Path, description: dict) -> set[str]:
    """The manifest and the shards and fragments it names, relative to _pagemind/."""
    manifest = json.loads((bundle / description["manifest"]).read_text())
    return {description["manifest"]} | {
        f"index/{folder}/{number}.{digest}.json"
        for folder in ("terms", "fragments")
        for number, digest in enumerate(manifest[folder]["files"])
    }


def test_a_new_build_chunks_only_pages_whose_content_changed(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    first = _index_description(build(root).config.site_dir)
    assert build(root)._indexer.pages_chunked == 0  # a new process: every page from the cache
    assert _index_description(root / "site") == first

    page = root / "docs" / "install.md"
    page.write_text(page.read_text().replace("Reboot afterwards.", "Then restart."))
    assert build(root)._indexer.pages_chunked == 1
    assert SiteIndex.load(root / "site").search("restart", k=1)[0].url == "install/#on-windows"

    config = root / "pagemind.toml"
    config.write_text(config.read_text() + "\n[search]\nchunk_tokens = 40\n")
    assert build(root)._indexer.pages_chunked == 3  # another chunk size: every page anew


def test_search_prints_json_hits_best_first(tmp_path: Path, capsys) -> None:
    root = write_site(tmp_path)
    assert cli.main(["search", str(root), "reboot windows installer", "--json", "-k", "2"]) == 0
    hits = json.loads(capsys.readouterr().out)

    assert len(hits) == 2
    assert all(set(hit) == {"url", "page", "heading", "score"} for hit in hits)
    assert hits[0] == {**hits[0], "url": "install/#on-windows", "page": "install.md",
                       "heading": "On Windows"}  # fmt: skip
    assert isinstance(hits[0]["score"], float) and hits[0]["score"] >= hits[1]["score"]


def test_search_says_when_nothing_matches(tmp_path: Path, capsys) -> None:
    root = write_site(tmp_path)
    assert cli.main(["search", str(root), "quantum chromodynamics"]) == 0
    assert "may not cover" in capsys.readouterr().err

    assert cli.main(["search", str(root), "printer spooler"]) == 0
    output = capsys.readouterr()
    assert "1. Installing \u203a On Windows \u203a Troubleshooting drivers" in output.out
    assert "install/#troubleshooting-drivers  [install.md]" in output.out
    assert "may not cover" not in output.err


@pytest.mark.parametrize(
    ("setting", "key"),
    [("chunk_tokens = 5", "search.chunk_tokens"), ('embed_device = "tpu"', "search.embed_device")],
)
def test_search_settings_out_of_range_name_the_key(tmp_path: Path, setting: str, key: str) -> None:
    config = f'site_name = "x"\n\n[search]\n{setting}\n'
    root = write_site(tmp_path, config=config)
    with pytest.raises(PagemindError) as error:
        load_config(root)
    assert error.value.key == key and error.value.line == 4
