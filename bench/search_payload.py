"""What a reader downloads to search, next to MkDocs' lunr index of the same docs.

    .venv/bin/python bench/search_payload.py [--copies 1 4 16]

Sites: example_site, MkDocs' docs as they are, and MkDocs' docs assembled --copies times with
varied text (bench/build_speed.py's corpus). Each is built keyword-only (`--no-check`, the
index is the same with an embedder, plus the vector files, given as figures), served over HTTP
and searched in Chromium with service workers blocked, so only the search's own fetches
count (the page's resource timing, from the focus on). Per site:

- before 1st result   bytes fetched from focusing the search box to its first results
- after 10 queries    bytes fetched for 10 different queries, typed one after another
- index total         every file of the index (manifest, term shards, fragments)
- per chunk           index total over the chunks; + vectors: with the int8 vector, its float32
                      scale and its sign bits
- meaning query       vector bytes a meaning-based query fetches: all of them in one file
                      before the two-pass ranking; now the signs and at most the groups of
                      its FIRST_PASS_CANDIDATES candidates (a bound: the largest groups;
                      bench/vector_first_pass.py measures the mean with real vectors)
- whole index before  the single-file index this replaces (chunks + keywords JSON), all of it
                      fetched before the first result
- lunr                search/search_index.json of `mkdocs build` of the same folder
                      (/tmp/mkdocs-venv; skipped with a message where it is absent or fails)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from build_speed import MKDOCS_CORPUS, MKDOCS_VENV, make_corpus, unwatch
from pagemind.commands.build import build_site
from pagemind.config import load_config
from pagemind.search_index.index_files import read_index
from pagemind.search_index.keywords import keyword_stats
from pagemind.search_index.ranking import FIRST_PASS_CANDIDATES
from pagemind.search_index.shards import json_bytes
from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "search_ui")]
from paths import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from search_fetches import FIRST_RESULTS  # noqa: E402
from static_host import StaticHost  # noqa: E402

QUERIES = [
    "deploy to github pages",
    "configure the theme",
    "add a plugin",
    "navigation",
    "search",
    "markdown extensions",
    "custom domain",
    "build the site",
    "install",
    "localization language",
]
VECTOR_DIMENSIONS = 384  # all-MiniLM-L6-v2
VECTOR_ROW = 4 + VECTOR_DIMENSIONS  # float32 scale + int8 components
SIGN_BYTES = VECTOR_DIMENSIONS // 8
BASE = "/repo/"


@dataclasses.dataclass
class Figures:
    name: str
    pages: int
    chunks: int
    first: int
    ten: int
    total: int
    whole_before: int
    lunr: int | None
    vector_groups: list[int]  # chunks of each vector group (those of the fragments)

    @property
    def vectors_before(self) -> int:
        return self.chunks * VECTOR_ROW

    @property
    def vectors_now(self) -> int:
        """The signs and the largest groups that the candidates can fall in."""
        largest = sorted(self.vector_groups, reverse=True)[:FIRST_PASS_CANDIDATES]
        return self.chunks * SIGN_BYTES + sum(largest) * VECTOR_ROW


def build(root: Path) -> Path:
    """Keyword-only `pagemind build --no-check` under /repo/; the output folder."""
    config = load_config(root, site_url=BASE)
    assistant = dataclasses.replace(config.assistant, enabled=False)
    config = dataclasses.replace(config, assistant=assistant)
    build_site(config, check=False)
    return config.site_dir


def lunr_bytes(root: Path) -> int | None:
    mkdocs = MKDOCS_VENV / "bin" / "mkdocs"
    if not mkdocs.exists():
        print(f"lunr: {mkdocs} is absent, skipped")
        return None
    output = root / "site-mkdocs"
    command = [str(mkdocs), "build", "-q", "-f", str(root / "mkdocs.yml"), "-d", str(output)]
    quiet = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true"}
    done = subprocess.run(command, capture_output=True, text=True, env=quiet)
    index = output / "search" / "search_index.json"
    if done.returncode or not index.is_file():
        print(f"lunr: mkdocs build of {root.name} failed, skipped: {done.stderr.strip()[-300:]}")
        return None
    return index.stat().st_size


def searched(browser: Browser, output: Path) -> tuple[int, int]:
    """(bytes before the first result, bytes after all QUERIES) in a fresh reader."""
    host = StaticHost(output, BASE)
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    page.goto(host.url)
    page.locator("#pagemind-search-input").wait_for(state="attached")
    fetched = [page.evaluate(FIRST_RESULTS, [query, host.url]) for query in QUERIES]
    context.close()
    host.close()
    sizes = [sum(entry["bytes"] for entry in entries) for entries in fetched]
    return sizes[0], sum(sizes)


def whole_index_bytes(output: Path) -> int:
    """The chunks and keywords files of the single-file index, for the same chunks."""
    loaded = read_index(output)
    stats = keyword_stats(loaded.chunks)
    chunks = {"chunks": [dataclasses.asdict(chunk) for chunk in loaded.chunks]}
    postings = {term: [n for pair in ps for n in pair] for term, ps in stats.postings.items()}
    keywords = {"lengths": stats.lengths, "terms": postings}
    return len(json_bytes(chunks)) + len(json_bytes(keywords))


def measure(browser: Browser, name: str, root: Path, with_lunr: bool) -> Figures:
    output = build(root)
    first, ten = searched(browser, output)
    index = output / "_pagemind" / "index"
    total = sum(path.stat().st_size for path in index.rglob("*") if path.is_file())
    description = json.loads((output / "_pagemind" / "site.json").read_text())["index"]
    manifest = json.loads((output / "_pagemind" / description["manifest"]).read_text())
    groups = np.diff([*manifest["fragments"]["first"], description["count"]]).tolist()
    pages = len(list((root / "docs").rglob("*.md")))
    lunr = lunr_bytes(root) if with_lunr else None
    whole = whole_index_bytes(output)
    return Figures(name, pages, description["count"], first, ten, total, whole, lunr, groups)


def sites(scratch: Path, copies: list[int]) -> list[tuple[str, Path, bool]]:
    """(name, folder, whether MkDocs builds it) of every site measured, copied to scratch."""
    found = []
    example = scratch / "example_site"
    shutil.copytree(REPO / "example_site", example, ignore=shutil.ignore_patterns("site", ".*"))
    found.append(("example_site", example, False))
    mkdocs_docs = scratch / "mkdocs-docs"
    shutil.copytree(MKDOCS_CORPUS, mkdocs_docs, ignore=shutil.ignore_patterns("site", ".*"))
    unwatch(mkdocs_docs / "mkdocs.yml")
    found.append(("MkDocs' docs", mkdocs_docs, True))
    for count in copies:
        root = scratch / f"copies-{count}"
        make_corpus(root, count)
        found.append((f"MkDocs' docs x{count}", root, True))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    logging.getLogger("pagemind").setLevel(logging.ERROR)  # MkDocs' plugin-only links warn
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        rows = [measure(browser, *site) for site in sites(Path(scratch), args.copies)]
        browser.close()
    print_table(rows)


def print_table(rows: list[Figures]) -> None:
    header = ("site", "pages", "chunks", "before 1st result", "after 10 queries",
              "index total", "per chunk", "+ vectors", "meaning query before", "meaning query now",
              "whole index before", "lunr")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    vector_bytes = VECTOR_ROW + SIGN_BYTES
    for row in rows:
        cells = (
            row.name, str(row.pages), str(row.chunks), _size(row.first), _size(row.ten),
            _size(row.total), f"{row.total / row.chunks:.0f} B",
            f"{(row.total + vector_bytes * row.chunks) / row.chunks:.0f} B",
            _size(row.vectors_before), f"<= {_size(row.vectors_now)}", _size(row.whole_before),
            _size(row.lunr) if row.lunr else "-",
        )  # fmt: skip
        print(" | ".join(cells))
    copies = [row for row in rows if row.name.startswith("MkDocs' docs x")]
    if len(copies) > 1:
        base = copies[0]
        for row in copies[1:]:
            scale = row.chunks / base.chunks
            print(
                f"x{scale:.1f} chunks: before the first result x{row.first / base.first:.2f}, "
                f"after 10 queries x{row.ten / base.ten:.2f}, "
                f"index total x{row.total / base.total:.2f}"
            )


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"


if __name__ == "__main__":
    main()
