"""Encoding speed of the browser BPE tokenizer (runtime/tokenizer_bpe.js) in Chromium, against
the Rust `tokenizers` library from Python, on every paragraph of the docs corpora.

Both encode the same texts with SmolLM2's vocabulary in the same run. "cold" starts from an
empty piece cache, "warm" encodes the same texts again; the library is timed one text at a
time on one thread (as the browser works) and, for reference, with its threaded batch call.

    .venv/bin/python bench/tokenizer_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.gguf_source import read_gguf
from pagemind.models.registry import resolve_model
from playwright.sync_api import Route, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from paths import CHROMIUM, CHROMIUM_ARGS, docs_paragraphs  # noqa: E402 - the tests' corpus and browser

RUNTIME = REPO / "runtime"
ORIGIN = "http://pagemind.invalid/"  # served from RUNTIME by request interception

ENCODE_ALL = """
async ({spec, texts, repeats}) => {
  const {BpeTokenizer} = await import("./tokenizer_bpe.js");
  const seconds = (work) => {
    const start = performance.now();
    work();
    return (performance.now() - start) / 1000;
  };
  let tokenizer;
  const load = seconds(() => { tokenizer = new BpeTokenizer(spec); });
  let tokens = 0;
  const encodeAll = () => { for (const text of texts) tokens += tokenizer.encode(text).length; };
  const cold = seconds(encodeAll);
  const warm = Math.min(...Array.from({length: repeats}, () => seconds(encodeAll)));
  return {load, cold, warm, tokens: tokens / (repeats + 1)};
}
"""


def best_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def library_figures(spec: dict, texts: list[str], repeats: int) -> dict[str, float]:
    start = time.perf_counter()
    tokenizer = bpe_tokenizer(spec)
    load = time.perf_counter() - start
    cold = best_seconds(lambda: [tokenizer.encode(text) for text in texts], 1)
    warm = best_seconds(lambda: [tokenizer.encode(text) for text in texts], repeats)
    batch = best_seconds(lambda: tokenizer.encode_batch(texts), repeats)
    tokens = sum(len(encoding.ids) for encoding in tokenizer.encode_batch(texts))
    return {"load": load, "cold": cold, "warm": warm, "batch": batch, "tokens": tokens}


def chromium_figures(spec: dict, texts: list[str], repeats: int) -> dict[str, float]:
    def serve(route: Route) -> None:
        name = route.request.url.removeprefix(ORIGIN)
        if name.endswith(".js"):
            route.fulfill(path=RUNTIME / name, content_type="text/javascript")
        else:
            route.fulfill(body="<!doctype html>", content_type="text/html")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route(f"{ORIGIN}**", serve)
        page.goto(ORIGIN)
        figures = page.evaluate(ENCODE_ALL, {"spec": spec, "texts": texts, "repeats": repeats})
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm runs; the best is kept")
    args = parser.parse_args()

    spec = read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO)).tokenizer_spec
    texts = docs_paragraphs()
    library = library_figures(spec, texts, args.repeats)
    chromium = chromium_figures(spec, texts, args.repeats)
    assert chromium["tokens"] == library["tokens"], "the two tokenizers disagree: run the tests"

    tokens = library["tokens"]
    print(f"{len(texts)} paragraphs, {sum(map(len, texts))} characters, {tokens} tokens")
    print(f"{'':34}{'load s':>9}{'cold tok/s':>13}{'warm tok/s':>13}")
    rows = [
        ("tokenizers (Rust), one at a time", library),
        ("tokenizer_bpe.js in Chromium", chromium),
    ]
    for name, figures in rows:
        print(
            f"{name:34}{figures['load']:9.3f}{tokens / figures['cold']:13,.0f}"
            f"{tokens / figures['warm']:13,.0f}"
        )
    print(f"tokenizers (Rust), threaded batch: {tokens / library['batch']:,.0f} tok/s warm")
    print(
        f"Chromium / Rust one at a time: cold {library['cold'] / chromium['cold']:.2f}x, "
        f"warm {library['warm'] / chromium['warm']:.2f}x"
    )


if __name__ == "__main__":
    main()
