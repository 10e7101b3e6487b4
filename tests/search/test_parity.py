"""The browser (runtime/retrieval.js, MiniLM on SwiftShader) ranks as
`pagemind search --json` does (pagemind.search_index, numpy), on the built example site."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from pagemind import cli
from pagemind.commands.build import build_site
from pagemind.config import load_config
from pagemind.search_index import SiteIndex, is_relevant
from paths import REPO

pytestmark = pytest.mark.browser

QUERIES = [
    "how do I publish the site to GitHub Pages",
    "preview my pages while I edit them",
    "can I turn the assistant off on one page",
    "which embedding model is used",
    "a recipe for sourdough bread",
]
K = 5
# How far the fused scores of two near-tied sections may move when each side embeds the
# query itself (MiniLM on SwiftShader and numpy agree to a cosine of 0.999).
NEAR_TIE = 0.01

HARNESS = """<!doctype html>
<meta charset="utf-8">
<meta name="pagemind" content="_pagemind/site.json">
<link rel="icon" href="data:,">
<title>parity</title>
<script type="module">
  import { loadSite } from "./_pagemind/runtime/site.js";
  import { SearchIndex } from "./_pagemind/runtime/retrieval.js";
  window.rank = async ({ queries, k }) => {
    const site = await loadSite();
    const index = await SearchIndex.load(site);
    await site.loadModel("embedder");
    const vectors = await (await site.runtime()).embed(queries);
    return Promise.all(queries.map(async (query, i) => {
      const hybrid = await index.hybrid(query, vectors[i], k);
      return {
        vector: Array.from(vectors[i]),
        keyword: await index.keyword(query, k),
        hybrid,
        relevant: index.isRelevant(hybrid),
      };
    }));
  };
  document.title = "ready";
</script>
"""


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    """example_site built with its assistant bundle (the embedder the browser loads)."""
    root = tmp_path_factory.mktemp("parity") / "example_site"
    shutil.copytree(REPO / "example_site", root, ignore=shutil.ignore_patterns("site", ".*"))
    cache = REPO / "example_site" / ".pagemind-cache"
    if cache.is_dir():  # packages and embeddings made before; the build checks their keys
        shutil.copytree(cache, root / ".pagemind-cache", copy_function=os.link)
    config = load_config(root)
    build_site(config, check=False)
    (config.site_dir / "parity.html").write_text(HARNESS, encoding="utf-8")
    return config.site_dir


def test_browser_and_terminal_rank_the_same(page, static_server, site_dir: Path, capsys) -> None:
    index = SiteIndex.load(site_dir)
    page.goto(static_server(site_dir) + "parity.html")
    page.wait_for_function("document.title === 'ready'")
    page.set_default_timeout(300_000)

    results = page.evaluate("(args) => window.rank(args)", {"queries": QUERIES, "k": K})

    for query, browser in zip(QUERIES, results, strict=True):
        js_vector = np.array(browser["vector"])
        py_vector = index.embed_query(query)
        assert _cosine(js_vector, py_vector) > 0.999, query
        # The same ranking code: identical hits for the same inputs.
        _assert_same_hits(browser["keyword"], index.ranker.keyword(query, K), query)
        _assert_same_hits(browser["hybrid"], index.ranker.hybrid(query, js_vector, K), query)
        # Each side with its own query vector: the same URLs, up to near-ties.
        assert cli.main(["search", "-q", str(site_dir.parent), query, "--json", "-k", str(K)]) == 0
        terminal = json.loads(capsys.readouterr().out)
        scores = {hit.url: hit.score for hit in index.ranker.hybrid(query, py_vector, 50)}
        for theirs, ours in zip(browser["hybrid"], terminal, strict=True):
            if theirs["url"] != ours["url"]:
                assert abs(scores[theirs["url"]] - ours["score"]) <= NEAR_TIE, (query, theirs, ours)
        assert browser["relevant"] == is_relevant(index.search(query, k=K)), query
    assert [result["relevant"] for result in results] == [True] * 4 + [False]
    assert page.console_errors == []


def _assert_same_hits(browser: list[dict], python: list, query: str) -> None:
    assert [hit["id"] for hit in browser] == [hit.id for hit in python], query
    for theirs, ours in zip(browser, python, strict=True):
        assert theirs["score"] == pytest.approx(ours.score, rel=1e-9), query
        assert theirs["coverage"] == pytest.approx(ours.coverage, rel=1e-9), query
        assert theirs["strength"] == pytest.approx(ours.strength, rel=1e-9, abs=1e-15), query


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
