"""Preview latency: from saving a page to Chromium showing the reloaded page.

`pagemind serve` rebuilds only what an edit touches. The peer, measured in the same run on
the same site, is a full rebuild for every edit, as MkDocs' `serve` does (here triggered
by touching the config along with the page). A copy of the site is edited, never the site.

    .venv/bin/python bench/serve_reload.py [--site example_site] [--page index.md] [--rounds 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pagemind.config import load_config
from pagemind.preview import Preview
from pagemind.structure.files import page_url
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from paths import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - the tests' Chromium setup


def edit_and_wait(
    page: Page, source: Path, original: str, marker: str, config: Path | None
) -> float:
    """Seconds from writing `marker` into the page's source to seeing it in the browser.

    With `config`, the config file is touched too, which makes the preview rebuild it all.
    """
    started = time.perf_counter()
    source.write_text(f"{original}\n\n{marker}\n")
    if config is not None:
        config.write_text(config.read_text() + f"\n# {marker}\n")
    page.get_by_text(marker).wait_for(timeout=30_000)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=REPO / "example_site")
    parser.add_argument("--page", default="index.md", help="page to edit, relative to docs_dir")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        site = Path(shutil.copytree(args.site, Path(scratch) / "site", ignore=ignore_output))
        config = load_config(site)
        source = config.docs_dir / args.page
        original = source.read_text()
        preview = Preview(site, port=0)
        preview.start()
        timings: dict[str, list[float]] = {"incremental": [], "full rebuild": []}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(preview.url + page_url(args.page))
            # Interleaved rounds, so that both modes see the same machine load.
            modes = {"incremental": None, "full rebuild": config.config_file}
            for round_number in range(args.rounds):
                for mode, touched in modes.items():
                    marker = f"Edit {round_number} {mode}"
                    timings[mode].append(edit_and_wait(page, source, original, marker, touched))
            browser.close()
        preview.close()

    ours, peer = (statistics.median(timings[mode]) for mode in ("incremental", "full rebuild"))
    print(f"site: {args.site} (page {args.page}), {args.rounds} rounds, medians:")
    print(f"  pagemind serve, edit -> reloaded page: {ours * 1000:7.0f} ms")
    print(f"  full rebuild per edit (MkDocs-style):  {peer * 1000:7.0f} ms")
    print(f"  ratio full / incremental: {peer / ours:.2f}x")


def ignore_output(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name in ("site", ".pagemind-cache")]


if __name__ == "__main__":
    main()
