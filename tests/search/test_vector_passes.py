"""Meaning-based ranking in two passes on MkDocs' own docs built through the CLI: the sign
bits of every chunk choose the candidates, their int8 vectors (fetched by group) rank them.
The top 5 is exact cosine's over every chunk for questions the docs answer (for one they do
not, the scores are flat and the order may differ, but not the verdict); the files are small
and content-hashed; and runtime/retrieval.js under Node ranks with the same scores, fetching
the signs and only its candidates' vector groups."""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from node_script import run_module
from pagemind import cli
from pagemind.errors import PagemindError
from pagemind.search_index import SiteIndex, is_relevant
from pagemind.search_index.index_files import parse_index
from pagemind.search_index.ranking import FIRST_PASS_CANDIDATES, FUSION_WEIGHT, Ranker
from paths import CORPORA, REPO

QUERIES = [
    "How do I publish my documentation to GitHub Pages?",
    "Which branch does gh-deploy push to?",
    "What port does the development server listen on?",
    "How do I add a custom theme directory?",
    "Where do I list the Markdown extensions to enable?",
    "How can I exclude a file from the build?",
    "How do I write a plugin that changes pages?",
    "Can the nav be generated automatically?",
    "localization of the search in another language",
]
OFF_TOPIC = "sourdough bread recipe"
TOP = 5
K = 10
SCRIPT = """
import { readFileSync } from "node:fs";
const { SearchIndex } = await import(new URL("retrieval.js", process.argv[1]).href);
const input = JSON.parse(readFileSync(0, "utf8"));
const fetched = [];
const read = async (path, kind) => {
  fetched.push(path);
  const bytes = readFileSync(new URL(path, input.bundle));
  return kind === "json" ? JSON.parse(bytes.toString("utf8")) : Uint8Array.from(bytes).buffer;
};
const results = [];
for (const [i, query] of input.queries.entries()) {
  fetched.length = 0;
  const index = await SearchIndex.fromFiles(input.description, read);  // a page of its own
  const hits = await index.hybrid(query, input.vectors[i], input.k);
  results.push({
    hits: hits.map((hit) => [hit.id, hit.score, hit.cosine, hit.coverage, hit.strength]),
    fetched: [...fetched],
  });
}
process.stdout.write(JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """MkDocs' docs built with the embedder (`pagemind build --no-check`)."""
    output = tmp_path_factory.mktemp("vector-passes") / "site"
    command = ["build", str(CORPORA / "mkdocs-docs"), "-o", str(output), "--no-check", "-q"]
    assert cli.main(command) == 0
    return output


@pytest.fixture(scope="module")
def index(site: Path) -> SiteIndex:
    return SiteIndex.load(site)


@pytest.fixture(scope="module")
def vectors(index: SiteIndex) -> list[np.ndarray]:
    return [index.embed_query(query) for query in [*QUERIES, OFF_TOPIC]]


def exact_top(ranker: Ranker, query: str, vector: np.ndarray, weight: float) -> list[int]:
    """The best TOP chunks by cosine (+ weight * keyword lift) over every chunk."""
    unit = vector.astype(np.float64) / np.linalg.norm(vector)
    lifts = {hit.id: hit.strength * hit.coverage for hit in ranker.keyword(query, 10**6)}
    scores = {
        number: cosine + weight * lifts.get(number, 0.0)
        for number, cosine in enumerate((ranker.vectors @ unit).tolist())
    }
    return sorted(scores, key=lambda number: (-scores[number], number))[:TOP]


def test_two_passes_give_the_top_5_of_exact_cosine_over_every_chunk(index, vectors) -> None:
    ranker = index.ranker
    assert len(ranker.chunks) > 10 * FIRST_PASS_CANDIDATES  # the first pass leaves most out
    for query, vector in zip(QUERIES, vectors[:-1], strict=True):
        hybrid = ranker.hybrid(query, vector, TOP)
        assert [hit.id for hit in hybrid] == exact_top(ranker, query, vector, FUSION_WEIGHT), query
        by_meaning = ranker.vector(vector, TOP, query)
        assert [hit.id for hit in by_meaning] == exact_top(ranker, query, vector, 0.0), query
        assert [hit.score for hit in by_meaning] == [hit.cosine for hit in by_meaning]
    off_topic = ranker.hybrid(OFF_TOPIC, vectors[-1], TOP)
    assert not is_relevant(off_topic)
    assert max(hit.cosine for hit in off_topic) == pytest.approx(
        float(np.max(ranker.vectors @ (vectors[-1] / np.linalg.norm(vectors[-1]))))
    )


def _bundle_files(site: Path) -> tuple[dict, dict]:
    bundle = site / "_pagemind"
    description = json.loads((bundle / "site.json").read_text())["index"]
    return description, json.loads((bundle / description["manifest"]).read_text())


def test_vector_files_are_small_content_hashed_and_cut_where_the_fragments_are(site) -> None:
    description, manifest = _bundle_files(site)
    index_dir = site / "_pagemind" / "index"
    count, dimensions = description["count"], description["vectors"]["dimensions"]
    groups = manifest["vectors"]
    assert groups["first"] == manifest["fragments"]["first"]
    assert not list(index_dir.glob("vectors.*"))  # no file of every chunk's vector
    ends = [*groups["first"][1:], count]
    for number, (first, end) in enumerate(zip(groups["first"], ends, strict=True)):
        data = (index_dir / "vectors" / f"{number}.{groups['files'][number]}.bin").read_bytes()
        assert hashlib.sha256(data).hexdigest()[:12] == groups["files"][number]
        assert len(data) == (end - first) * (4 + dimensions) < 16_000
    signs = site / "_pagemind" / description["vectors"]["signs"]
    assert hashlib.sha256(signs.read_bytes()).hexdigest()[:12] == signs.name.split(".")[1]
    assert signs.stat().st_size == count * 4 * math.ceil(dimensions / 32)  # 48 B at 384


def test_the_browser_ranks_the_same_fetching_signs_and_its_candidates_groups_only(
    site, index, vectors
) -> None:
    description, manifest = _bundle_files(site)
    data = {
        "description": description,
        "bundle": (site / "_pagemind").as_uri() + "/",
        "queries": [*QUERIES, OFF_TOPIC],
        "vectors": [vector.tolist() for vector in vectors],
        "k": K,
    }
    browser = run_module(SCRIPT, data, (REPO / "runtime" / "x").as_uri())

    for query, vector, theirs in zip([*QUERIES, OFF_TOPIC], vectors, browser, strict=True):
        python = index.ranker.hybrid(query, vector, K)
        assert [hit[0] for hit in theirs["hits"]] == [hit.id for hit in python], query
        for (_, *figures), hit in zip(theirs["hits"], python, strict=True):
            expected = [hit.score, hit.cosine, hit.coverage, hit.strength]
            assert figures == pytest.approx(expected, rel=1e-9, abs=1e-15), query
        groups = [path for path in theirs["fetched"] if path.startswith("index/vectors/")]
        candidates = index.ranker.candidates(query, vector)
        assert sorted(groups) == sorted({_group_of(manifest, n) for n in candidates}), query
        assert len(groups) < len(manifest["vectors"]["files"]) / 2, query
        assert [p for p in theirs["fetched"] if "signs" in p] == [description["vectors"]["signs"]]


def _group_of(manifest: dict, chunk: int) -> str:
    number = bisect.bisect_right(manifest["vectors"]["first"], chunk) - 1
    return f"index/vectors/{number}.{manifest['vectors']['files'][number]}.bin"


def _without_vectors(data: bytes) -> bytes:
    manifest = json.loads(data)
    del manifest["vectors"]
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    ("part", "damage"),
    [
        ("signs.", lambda data: data[:-1]),  # cut short
        ("vectors/", lambda data: data[:-1]),
        ("manifest.", _without_vectors),
    ],
)
def test_a_damaged_vector_file_is_named_with_the_fix(site, part: str, damage) -> None:
    description, _ = _bundle_files(site)
    bundle = site / "_pagemind"
    target = next(path for path in (bundle / "index").rglob("*") if part in path.as_posix())
    name = target.relative_to(bundle).as_posix()

    def read(path: str) -> bytes:
        data = (bundle / path).read_bytes()
        return damage(data) if path == name else data

    with pytest.raises(PagemindError) as error:
        parse_index(description, read, bundle)
    assert name in error.value.message
    assert error.value.fix == "rebuild the site"
