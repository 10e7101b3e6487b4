"""Driving the search box: its selectors, a built site, typing a query and waiting for it."""

from __future__ import annotations

import json
from pathlib import Path

from pagemind import cli

INPUT = "#pagemind-search-input"
PANEL = ".pm-search-panel"
OPTIONS = "#pagemind-search-results [role=option]"


def build(source: Path, out: Path) -> Path:
    """`pagemind build source -o out --no-check -q`; the output folder."""
    assert cli.main(["build", str(source), "-o", str(out), "--no-check", "-q"]) == 0
    return out


def open_page(page, url: str) -> None:
    """Go to `url` and wait until the search box is mounted."""
    page.goto(url)
    page.locator(INPUT).wait_for(state="attached")


def results_for(query: str) -> str:
    """The results list once it shows the results of `query` (not of a part typed earlier)."""
    return f"#pagemind-search-results[data-query={json.dumps(query.strip())}]"


def type_query(page, query: str) -> None:
    """Type into the focused search field and wait for the first result of the whole query."""
    page.keyboard.type(query)
    page.locator(f"{results_for(query)} [role=option]").first.wait_for()
