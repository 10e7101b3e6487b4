"""The index cut into small content-hashed files (pagemind-index/3) on MkDocs' own docs: read
back whole it is the index computed in memory, so BM25 scores are exact; runtime/retrieval.js
under Node, fetching only the files a query needs, ranks with the very same scores."""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from node_script import run_module
from pagemind.config import load_config
from pagemind.errors import PagemindError
from pagemind.search_index.chunks import chunk_page
from pagemind.search_index.index_files import IndexFiles, parse_index
from pagemind.search_index.keywords import keyword_stats, stem
from pagemind.search_index.ranking import Ranker
from pagemind.search_index.shards import FRAGMENT_BYTES, SHARD_BYTES, utf16_order
from pagemind.search_index.site_index import SiteIndexer, estimate_tokens, parse_pages
from paths import CORPORA, REPO

QUERIES = [
    "deploy to GitHub pages",
    "how do I configure the theme",
    "mkdocs.yml nav configuration",
    "plugins",
    "search index lunr language",
    "Où est la sortie ? ✓ 日本語",
    "the of and",  # stop words only
    "zzqx unknownword",
]
PREFIXES = ["conf", "depl", "them", "pl", "mkd", "zzq"]
K = 20
SCRIPT = """
import { readFileSync } from "node:fs";
const { SearchIndex } = await import(new URL("retrieval.js", process.argv[1]).href);
const input = JSON.parse(readFileSync(0, "utf8"));
const fetched = new Set();
const read = async (path, kind) => {
  fetched.add(path);
  const bytes = readFileSync(new URL(path, input.bundle));
  return kind === "json" ? JSON.parse(bytes.toString("utf8")) : bytes.buffer;
};
const rankings = [];
for (const query of input.queries) {
  fetched.clear();
  const index = await SearchIndex.fromFiles(input.description, read);  // a page of its own
  const hits = await index.keyword(query, input.k);
  rankings.push({
    hits: hits.map((hit) => [hit.id, hit.url, hit.score, hit.coverage, hit.strength]),
    weights: [...(await index.termWeights(query))],
    fetched: [...fetched],
  });
}
const index = await SearchIndex.fromFiles(input.description, read);
const completions = [];
for (const prefix of input.prefixes) completions.push(await index.completion(prefix));
process.stdout.write(JSON.stringify({ rankings, completions }));
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[IndexFiles, list, Path]:
    """(the index files of MkDocs' docs, keyword-only; the chunks cut in memory; the folder
    the files were written to, as _pagemind/)."""
    config = load_config(CORPORA / "mkdocs-docs")
    config = dataclasses.replace(
        config, assistant=dataclasses.replace(config.assistant, enabled=False)
    )
    pages = parse_pages(config)
    files = SiteIndexer(config).update(pages, ())
    size = config.search.chunk_tokens
    chunks = [chunk for page in pages.values() for chunk in chunk_page(page, estimate_tokens, size)]
    bundle = tmp_path_factory.mktemp("sharded") / "_pagemind"
    for path, data in files.files.items():
        target = bundle.parent / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files, chunks, bundle


def _loaded(files: IndexFiles):
    return parse_index(files.description, lambda path: files.files[f"_pagemind/{path}"], Path())


def test_the_files_are_small_content_hashed_and_named_in_the_manifest(corpus) -> None:
    files, chunks, _ = corpus
    by_folder: dict[str, list[int]] = {"terms": [], "fragments": []}
    for path, data in files.files.items():
        name = Path(path).name
        assert name.split(".")[-2] == hashlib.sha256(data).hexdigest()[:12], path
        if Path(path).parent.name in by_folder:
            by_folder[Path(path).parent.name].append(len(data))
    manifest = json.loads(files.files["_pagemind/" + files.description["manifest"]])
    assert len(manifest["terms"]["files"]) == len(by_folder["terms"]) > 10
    assert len(manifest["fragments"]["files"]) == len(by_folder["fragments"]) > 10
    assert len(json.dumps(manifest)) < 4_000  # what a query fetches before any shard
    for folder, target in (("terms", SHARD_BYTES), ("fragments", FRAGMENT_BYTES)):
        sizes = sorted(by_folder[folder])
        assert sizes[len(sizes) // 2] < 2 * target, folder  # few KB, not the whole index
    assert files.description["count"] == len(chunks)


def test_read_back_whole_it_is_the_index_in_memory_with_exact_scores(corpus) -> None:
    files, chunks, _ = corpus
    loaded = _loaded(files)
    exact_stats = keyword_stats(chunks)
    assert loaded.chunks == chunks
    assert loaded.stats == exact_stats
    exact = Ranker(chunks, exact_stats, None)
    sharded = Ranker(loaded.chunks, loaded.stats, None)
    for query in QUERIES:
        ours = [(hit.id, hit.score, hit.coverage) for hit in sharded.keyword(query, K)]
        assert ours == [(hit.id, hit.score, hit.coverage) for hit in exact.keyword(query, K)]


def test_the_browser_ranks_the_same_fetching_only_its_terms_shards(corpus) -> None:
    files, _, bundle = corpus
    loaded = _loaded(files)
    ranker = Ranker(loaded.chunks, loaded.stats, None)
    data = {
        "description": files.description,
        "bundle": bundle.as_uri() + "/",
        "queries": QUERIES,
        "prefixes": PREFIXES,
        "k": K,
    }
    browser = run_module(SCRIPT, data, (REPO / "runtime" / "x").as_uri())
    manifest = json.loads((bundle / files.description["manifest"]).read_text())

    for query, theirs in zip(QUERIES, browser["rankings"], strict=True):
        python = ranker.keyword(query, K)
        assert [hit[:2] for hit in theirs["hits"]] == [[h.id, h.url] for h in python], query
        for (_, _, score, coverage, strength), hit in zip(theirs["hits"], python, strict=True):
            # Equal up to the last bit of Math.log and math.log.
            assert [score, coverage, strength] == pytest.approx(
                [hit.score, hit.coverage, hit.strength], rel=1e-12
            )
        assert dict(theirs["weights"]) == pytest.approx(ranker.term_weights(query), rel=1e-12)
        terms = [path for path in theirs["fetched"] if path.startswith("index/terms/")]
        assert len(terms) <= len(ranker.term_weights(query)), query  # one shard per term
        shown = {path for path in theirs["fetched"] if path.startswith("index/fragments/")}
        assert shown == {_fragment_of(manifest, hit.id) for hit in python}, query
    assert browser["completions"] == [_completion(loaded.stats, p) for p in PREFIXES]
    assert browser["completions"][0].startswith("conf")


def _fragment_of(manifest: dict, chunk: int) -> str:
    number = bisect.bisect_right(manifest["fragments"]["first"], chunk) - 1
    return f"index/fragments/{number}.{manifest['fragments']['files'][number]}.json"


def _completion(stats, prefix: str) -> str | None:
    """The term beginning with `prefix` that the most chunks hold (the first among equals);
    None when the prefix is a whole term."""
    if stem(prefix) in stats.postings:
        return None
    best, count = None, 0
    for term in sorted(stats.postings, key=utf16_order):
        if term.startswith(prefix) and len(stats.postings[term]) > count:
            best, count = term, len(stats.postings[term])
    return best


@pytest.mark.parametrize(
    ("folder", "damage"),
    [
        ("terms", lambda text: text.replace("]", ",7]", 1)),  # a posting cut short
        ("fragments", lambda text: text.replace('"url"', '"link"', 1)),
    ],
)
def test_a_damaged_file_is_named_with_the_fix(corpus, tmp_path: Path, folder, damage) -> None:
    files, _, _ = corpus
    damaged = dict(files.files)
    path = next(path for path in damaged if f"/index/{folder}/" in path)
    damaged[path] = damage(damaged[path].decode()).encode()
    with pytest.raises(PagemindError) as error:
        parse_index(files.description, lambda name: damaged[f"_pagemind/{name}"], tmp_path)
    assert path.removeprefix("_pagemind/") in error.value.message
    assert error.value.fix == "rebuild the site"
