"""Meaning-based search without WebGPU: the search box and the assistant's answers without a
model embed the query on the CPU (runtime/cpu_embedder.js, in a worker), from the very MiniLM
package the GPU path loads, with the numpy reference's vectors; the chunks' vectors come from
the index as with WebGPU."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from pagemind.models.bert import Bert
from pagemind.models.package import read_package
from pagemind.models.safetensors_source import BertModel
from search_ui_helpers import OPTIONS, open_page, results_for

pytestmark = pytest.mark.browser

NO_WEBGPU = "Object.defineProperty(Navigator.prototype, 'gpu', {get: () => undefined})"
# Shares no word with the docs; its meaning is the section on serving the site yourself.
QUERY = "apache webserver"
TARGET = "guides/deploying/#nginx"
FOOTER = ".pm-search-meaning"
READY = "Keyword and meaning-based results"
TEXTS = [
    "apache webserver",
    "How do I publish my docs on GitHub Pages with a custom domain?",
    "Héllo, wörld! Ünïcode and 中文 text",
]
FAILING_GPU_WORKER = """self.onmessage = ({ data }) =>
  postMessage({ request: data.request, type: "error", message: "no WebGPU adapter" });"""
# The query vectors the page's own modules compute (the search box's CPU embedder, loaded),
# and the milliseconds each took, worker round trip included.
EMBED = """async (texts) => {
  const runtime = document.querySelector("script[src$='runtime/page.js']").src;
  const { loadSite } = await import(new URL("site.js", runtime));
  const { cachedQueryVector } = await import(new URL("search_meaning.js", runtime));
  const site = await loadSite();
  const vectors = [];
  const times = [];
  for (const text of texts) {
    const start = performance.now();
    vectors.push(Array.from(await cachedQueryVector(site, text)));
    times.push(performance.now() - start);
  }
  return { vectors, times };
}"""


def reference_vectors(site: Path, texts: list[str]) -> np.ndarray:
    """numpy's BERT on the package the site ships."""
    [manifest_path] = (site / "_pagemind" / "models" / "embedder").glob("manifest.*.json")
    manifest, tensors = read_package(manifest_path)
    return Bert(BertModel.from_package(manifest, tensors)).embed(texts)


def first_result_is(page, href: str) -> None:
    page.wait_for_function(
        f"document.querySelector('{OPTIONS} a')?.href === {json.dumps(href)}", timeout=60_000
    )


def test_without_webgpu_meaning_based_search_runs_on_the_cpu(
    page, static_server, built_site: Path, artifacts: Path
) -> None:
    page.add_init_script(NO_WEBGPU)
    base = static_server(built_site, "/repo/")
    workers: list[str] = []
    page.on("worker", lambda worker: workers.append(worker.url.rsplit("/", 1)[-1]))
    open_page(page, base + "getting-started/")
    page.keyboard.press("/")
    page.keyboard.type(QUERY)
    page.locator(results_for(QUERY)).wait_for(state="attached")
    keyword_hrefs = [a.get_attribute("href") for a in page.locator(f"{OPTIONS} a").all()]
    assert base + TARGET not in keyword_hrefs  # keywords alone cannot find it

    page.locator(FOOTER).locator("button").click()  # the same opt-in as with WebGPU
    page.locator(FOOTER).filter(has_text=READY).wait_for(timeout=120_000)
    first_result_is(page, base + TARGET)
    assert "by meaning" in page.locator(OPTIONS).first.inner_text()
    assert workers == ["cpu_worker.js"]  # no GPU runtime was started
    page.screenshot(path=artifacts / "search-meaning-cpu.png")

    found = page.evaluate(EMBED, TEXTS)
    vectors, expected = np.array(found["vectors"]), reference_vectors(built_site, TEXTS)
    cosines = (vectors * expected).sum(axis=1) / np.linalg.norm(vectors, axis=1)
    assert cosines.min() >= 0.999, cosines
    print(f"CPU query embedding in Chromium, ms: {[round(t) for t in found['times']]}")

    # The assistant without WebGPU quotes the section found by meaning, from the same model.
    page.get_by_role("button", name="Ask the docs").click()
    page.locator("#pm-assistant-question").fill(QUERY)
    page.locator("#pm-assistant-question").press("Enter")
    source = page.locator(".pm-turn .pm-passage .pm-passage-source a")
    source.wait_for(timeout=60_000)
    assert source.get_attribute("href") == base + TARGET
    assert workers == ["cpu_worker.js"]
    assert page.console_errors == []


def test_the_next_page_embeds_on_the_cpu_from_the_cache(
    page, static_server, built_site: Path
) -> None:
    page.add_init_script(NO_WEBGPU)
    base = static_server(built_site)
    open_page(page, base)
    page.keyboard.press("/")
    page.keyboard.type("deploy")
    page.locator(FOOTER).locator("button").click()
    page.locator(FOOTER).filter(has_text=READY).wait_for(timeout=120_000)

    # The next page loads the model by itself after the first keyword results: from the cache.
    shard_requests: list[str] = []
    shard = re.compile(r"/models/embedder/.*\.bin$")
    page.on("request", lambda r: shard.search(r.url) and shard_requests.append(r.url))
    open_page(page, base + "guides/deploying/")
    page.keyboard.press("/")
    page.keyboard.type(QUERY)
    page.locator(FOOTER).filter(has_text=READY).wait_for(state="attached", timeout=120_000)
    first_result_is(page, base + TARGET)
    assert shard_requests == []
    assert page.console_errors == []


def test_a_gpu_that_cannot_start_hands_the_queries_to_the_cpu(
    page, static_server, built_site: Path
) -> None:
    # WebGPU is offered, but the GPU runtime fails as it does on a machine without an adapter.
    page.route(
        re.compile(r".*/runtime/worker\.js$"),
        lambda route: route.fulfill(content_type="text/javascript", body=FAILING_GPU_WORKER),
    )
    base = static_server(built_site)
    open_page(page, base)
    page.keyboard.press("/")
    page.keyboard.type(QUERY)
    page.locator(FOOTER).locator("button").click()
    page.locator(FOOTER).filter(has_text=READY).wait_for(timeout=120_000)
    first_result_is(page, base + TARGET)
    assert page.console_errors == []
