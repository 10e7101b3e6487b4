"""Bytes a reader downloads from the host, counted at the server, for a site served under
/repo/ with no caching headers (the worst case for a static host):

  first visit        the home page, plus the service worker's precache
  + assistant        both models, as the assistant panel loads them
  repeat visit       another page, same build
  after an edit      one page's text changed and the site rebuilt: the next visit, the
                     update the page offers, and the assistant loaded again

The peer, measured in the same run on the same build, is the same reader with service
workers blocked (so the browser keeps nothing but what the model loader stores itself).
A copy of the site is built and edited, never the site.

    .venv/bin/python bench/offline_bytes.py [--site example_site] [--tiny]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "offline")]
# The offline tests' site copy, counting static host and Chromium setup.
from offline_site import BASE, build, copy_site  # noqa: E402
from paths import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from static_host import StaticHost  # noqa: E402  (tests/static_host.py)

EDITED_PAGE = "guides/deploying.md"

# Resolves once the service worker keeps this page.
SETTLED = """async () => {
  const started = Date.now();
  const pause = () => new Promise((resolve) => setTimeout(resolve, 100));
  while (!(await caches.match(location.href)) && Date.now() - started < 60000) await pause();
}"""

# Loads both models through the runtime's loader (the panel's download, without the GPU).
LOAD_MODELS = """async (root) => {
  const { loadSite } = await import(root + "_pagemind/runtime/site.js");
  const { loadModel } = await import(root + "_pagemind/runtime/loader.js");
  const site = await loadSite();
  for (const { manifest } of Object.values(site.assistant.models)) {
    await loadModel(site.url(manifest));
  }
}"""

UPDATE_BUTTON = ".pagemind-update button"


def visit(page: Page, url: str, with_worker: bool) -> None:
    page.goto(url)
    if with_worker:
        page.evaluate(SETTLED)


def reader(browser: Browser, host: StaticHost, source: Path, with_worker: bool) -> dict:
    """Bytes of each step for one reader; edits and rebuilds `source` on the way."""
    context = browser.new_context(service_workers="allow" if with_worker else "block")
    page = context.new_page()
    steps = {}
    host.take_log()
    visit(page, host.url, with_worker)
    steps["first visit"] = host.take_log()
    page.evaluate(LOAD_MODELS, host.url)
    steps["+ assistant"] = host.take_log()
    visit(page, host.url + "getting-started/", with_worker)
    steps["repeat visit"] = host.take_log()
    page_source = source / "docs" / EDITED_PAGE
    original = page_source.read_text()
    page_source.write_text(original + "\n\nEdited for the benchmark.\n")
    build(source)
    host.take_log()
    visit(page, host.url + EDITED_PAGE.removesuffix(".md") + "/", with_worker)
    if with_worker and page.locator(UPDATE_BUTTON).is_visible(timeout=10_000):
        with page.expect_navigation():
            page.locator(UPDATE_BUTTON).click()
        page.evaluate(SETTLED)
    page.evaluate(LOAD_MODELS, host.url)
    steps["after an edit"] = host.take_log()
    page_source.write_text(original)
    build(source)
    context.close()
    return {step: sum(served.bytes for served in log) for step, log in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=REPO / "example_site")
    parser.add_argument(
        "--tiny", action="store_true", help="a tiny random generator in place of the site's"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        source = copy_site(args.site, Path(scratch) / "site", tiny=args.tiny)
        host = StaticHost(build(source), BASE)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ours = reader(browser, host, source, with_worker=True)
            peer = reader(browser, host, source, with_worker=False)
            browser.close()
        host.close()

    print(f"site: {args.site}{' (tiny generator)' if args.tiny else ''}, served under {BASE}")
    print(f"  {'step':<16}{'service worker':>16}{'no worker':>16}{'ratio':>8}")
    for step in ours:
        ratio = f"{ours[step] / peer[step]:.2f}x" if peer[step] else "-"
        print(f"  {step:<16}{_size(ours[step]):>16}{_size(peer[step]):>16}{ratio:>8}")


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"


if __name__ == "__main__":
    main()
