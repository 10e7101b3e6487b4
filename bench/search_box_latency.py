"""Search box latency in Chromium: from a query typed (an `input` event) to its results in
the page, keyword-only and with meaning-based results merged in, on the same built site in
the same run. Both include the box's typing debounce; the hybrid figure adds embedding the
query on the browser's WebGPU adapter (SwiftShader here: the CPU), or with --no-webgpu on
the CPU embedder that browsers without WebGPU use (runtime/cpu_embedder.js, in a worker).

    .venv/bin/python bench/search_box_latency.py [--site example_site] [--rounds 3] [--no-webgpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pagemind import cli
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from paths import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - the tests' Chromium setup
from static_host import StaticHost  # noqa: E402 - the tests' static server

QUERIES = [
    "deploy to github pages",
    "sub-path hosting",
    "change the language model",
    "dark mode palette",
    "broken links",
    "front matter title",
    "offline reading",
    "service worker cache",
]

# Milliseconds from each query's input event to the `renders`-th update of the results list.
TIME_QUERIES = """async ({queries, renders}) => {
  const input = document.getElementById("pagemind-search-input");
  const list = document.getElementById("pagemind-search-results");
  const times = [];
  for (const query of queries) {
    const shown = new Promise((resolve) => {
      let seen = 0;
      const observer = new MutationObserver(() => {
        if (++seen < renders) return;
        observer.disconnect();
        resolve(performance.now());
      });
      observer.observe(list, { childList: true });
    });
    const start = performance.now();
    input.value = query;
    input.dispatchEvent(new Event("input"));
    times.push((await shown) - start);
  }
  return times;
}"""


NO_WEBGPU = "Object.defineProperty(Navigator.prototype, 'gpu', {get: () => undefined})"


def time_queries(page: Page, queries: list[str], renders: int) -> list[float]:
    return page.evaluate(TIME_QUERIES, {"queries": queries, "renders": renders})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=REPO / "example_site")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-webgpu", action="store_true", help="hide WebGPU: queries embed on the CPU"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        out = Path(folder) / "site"
        assert cli.main(["build", str(args.site), "-o", str(out), "--no-check", "-q"]) == 0
        index = out / "_pagemind" / "index"
        index_bytes = sum(path.stat().st_size for path in index.rglob("*") if path.is_file())
        server = StaticHost(out)
        base = server.url
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(service_workers="block").new_page()
        if args.no_webgpu:
            page.add_init_script(NO_WEBGPU)
        page.goto(base)
        page.locator("#pagemind-search-input").focus()
        started = time.perf_counter()
        time_queries(page, ["index"], renders=1)  # fetches the manifest and the query's files
        first = time.perf_counter() - started

        queries = QUERIES * args.rounds
        keyword = time_queries(page, queries, renders=1)
        started = time.perf_counter()
        page.locator(".pm-meaning-button").click()
        page.get_by_text("Keyword and meaning-based results").wait_for(timeout=300_000)
        model_load = time.perf_counter() - started
        # Numbered, so no query vector comes from the box's memory of earlier queries.
        numbered = [f"{query} {number}" for number, query in enumerate(queries)]
        hybrid = time_queries(page, numbered, renders=2)
        browser.close()
        server.close()

    print(f"index files: {index_bytes / 1e3:.1f} kB; first query (fetches its part): {first:.2f} s")
    where = "CPU, WebGPU hidden" if args.no_webgpu else "WebGPU"
    print(f"embedder load (opt-in click to ready, {where}): {model_load:.2f} s")
    print(f"keyword results: median {statistics.median(keyword):.0f} ms (debounce included)")
    print(f"hybrid results:  median {statistics.median(hybrid):.0f} ms")
    print(f"hybrid / keyword: {statistics.median(hybrid) / statistics.median(keyword):.1f}x")


if __name__ == "__main__":
    main()
