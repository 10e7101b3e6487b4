"""Meaning-based results in the search box with the real MiniLM on SwiftShader: offered with
its download size, merged in once loaded, and loaded by itself from Cache Storage on the next
page. The meaning-based ranking fetches the signs of every chunk and only the vector groups its
candidates fall in. Without WebGPU, see test_search_cpu_embedding.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pagemind.search_index import SiteIndex
from search_ui_helpers import INPUT, OPTIONS, open_page, results_for

# Shares no word with the docs; its meaning is the section on serving the site yourself.
QUERY = "apache webserver"
TARGET = "guides/deploying/#nginx"
FOOTER = ".pm-search-meaning"
# What the assistant panel does: load the embedder through the page's one site object.
SHARED_LOAD = """async () => {
  const page = document.querySelector("script[src$='runtime/page.js']").src;
  const { loadSite } = await import(new URL("site.js", page));
  await (await loadSite()).loadModel("embedder");
}"""
# The query's vector from the page's embedder, as the search box computed it.
QUERY_VECTOR = """async (query) => {
  const page = document.querySelector("script[src$='runtime/page.js']").src;
  const { loadSite } = await import(new URL("site.js", page));
  const [vector] = await (await (await loadSite()).runtime()).embed([query]);
  return Array.from(vector);
}"""


def embedder_bytes(site: Path) -> int:
    entry = json.loads((site / "_pagemind" / "site.json").read_text(encoding="utf-8"))
    assistant = json.loads((site / "_pagemind" / entry["assistant"]).read_text(encoding="utf-8"))
    return assistant["models"]["embedder"]["download_bytes"]


@pytest.mark.browser
def test_meaning_based_results_merge_in_after_the_reader_opts_in(
    page, static_server, built_site: Path, artifacts: Path
) -> None:
    base = static_server(built_site, "/repo/")
    shard_requests: list[str] = []
    shard = re.compile(r"/models/embedder/.*\.bin$")
    page.on("request", lambda r: shard.search(r.url) and shard_requests.append(r.url))
    index_requests: list[str] = []
    index_file = re.compile(r"/_pagemind/(index/.*)$")
    page.on("request", lambda r: (m := index_file.search(r.url)) and index_requests.append(m[1]))
    open_page(page, base + "getting-started/")
    page.keyboard.press("/")
    page.keyboard.type(QUERY)
    page.locator(results_for(QUERY)).wait_for(state="attached")
    footer = page.locator(FOOTER)
    offer = footer.locator("button")
    offer.wait_for()
    assert f"{embedder_bytes(built_site) / 1e6:.1f} MB" in offer.inner_text()
    keyword_hrefs = [a.get_attribute("href") for a in page.locator(f"{OPTIONS} a").all()]
    assert base + TARGET not in keyword_hrefs
    assert shard_requests == []  # nothing downloaded before the reader asks

    offer.click()
    footer.filter(has_text="Keyword and meaning-based results").wait_for(timeout=120_000)
    first = page.locator(OPTIONS).first.locator("a")
    page.wait_for_function(
        f"document.querySelector('{OPTIONS} a')?.href === {json.dumps(base + TARGET)}",
        timeout=60_000,
    )
    assert "by meaning" in first.inner_text()
    assert page.evaluate("document.activeElement.id") == "pagemind-search-input"
    vector = np.array(page.evaluate(QUERY_VECTOR, QUERY))
    assert_fetched_signs_and_candidate_groups(built_site, index_requests, vector)
    page.screenshot(path=artifacts / "search-meaning.png")

    # Next page of the visit: the shards are in Cache Storage, so the model loads by itself.
    shard_requests.clear()
    open_page(page, base + "guides/deploying/")
    page.locator(INPUT).focus()
    page.keyboard.type(QUERY)  # the keyword results first, then the model by itself
    ready = footer.filter(has_text="Keyword and meaning-based results")
    ready.wait_for(state="attached", timeout=120_000)
    page.wait_for_function(
        f"document.querySelector('{OPTIONS} a')?.href === {json.dumps(base + TARGET)}",
        timeout=60_000,
    )
    assert shard_requests == []

    # A load started elsewhere on the page (the assistant panel's) serves the search box too,
    # before the reader ever focuses it.
    open_page(page, base + "troubleshooting/")
    page.evaluate(SHARED_LOAD)
    assert page.locator(FOOTER).inner_text() == "Keyword and meaning-based results"
    assert page.console_errors == []


def assert_fetched_signs_and_candidate_groups(site: Path, requests: list[str], vector) -> None:
    """The one meaning-based ranking of QUERY on the page fetched the signs once and the
    vector groups of exactly its candidates (the ranking's Python twin's, same vector)."""
    index = SiteIndex.load(site)
    assert not [term for term in index.ranker.stats.postings if term.startswith("webserver")]
    entry = json.loads((site / "_pagemind" / "site.json").read_text(encoding="utf-8"))["index"]
    manifest = json.loads((site / "_pagemind" / entry["manifest"]).read_text(encoding="utf-8"))
    groups = manifest["vectors"]
    expected = {
        max(n for n, first in enumerate(groups["first"]) if first <= chunk)
        for chunk in index.ranker.candidates(QUERY, vector)  # QUERY was not completed
    }
    paths = sorted(f"index/vectors/{n}.{groups['files'][n]}.bin" for n in expected)
    assert sorted(path for path in requests if path.startswith("index/vectors/")) == paths
    assert len(paths) < len(groups["files"])
    assert [path for path in requests if "signs." in path] == [entry["vectors"]["signs"]]
