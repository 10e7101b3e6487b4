"""What the search box downloads for its first results, counted at a real static host: the
index manifest, the shards of the query's terms and the fragments of the results shown;
no vectors, no sign bits and no model."""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pagemind.search_index.keywords import keyword_terms
from pagemind.search_index.shards import utf16_order
from search_fetches import FIRST_RESULTS
from search_ui_helpers import OPTIONS, open_page
from static_host import StaticHost

QUERY = "gh-deploy branch"


@pytest.fixture
def host(built_site: Path) -> Iterator[StaticHost]:
    served = StaticHost(built_site, "/repo/")
    yield served
    served.close()


@pytest.mark.browser
def test_the_first_results_fetch_only_the_manifest_the_terms_shards_and_shown_fragments(
    browser, host: StaticHost, built_site: Path
) -> None:
    context = browser.new_context(service_workers="block")  # only the search's own fetches
    page = context.new_page()
    open_page(page, host.url + "getting-started/")
    before_results = page.evaluate(FIRST_RESULTS, [QUERY, host.url])
    fetched = [entry["path"] for entry in before_results]
    shown = {link.split("/repo/", 1)[1] for link in _hrefs(page)}
    context.close()

    bundle = built_site / "_pagemind"
    description = json.loads((bundle / "site.json").read_text())["index"]
    manifest = json.loads((bundle / description["manifest"]).read_text())
    vector_files = ("/models/", "/index/vectors/", "/index/signs.")
    assert not [path for path in fetched if any(part in path for part in vector_files)], fetched
    index_files = {path.removeprefix("_pagemind/") for path in fetched if "/index/" in path}
    terms = {path for path in index_files if path.startswith("index/terms/")}
    fragments = index_files - terms - {description["manifest"]}
    assert terms == {_shard_of(manifest, term) for term in keyword_terms(QUERY)}
    assert 0 < len(fragments) <= len(shown)
    for fragment in fragments:  # each holds a result shown
        chunks = json.loads((bundle / fragment).read_text())["chunks"]
        assert {chunk["url"] for chunk in chunks} & shown, fragment
    total = sum(path.stat().st_size for path in (bundle / "index").rglob("*.json"))
    fetched_bytes = sum((bundle / path).stat().st_size for path in index_files)
    assert fetched_bytes < total / 3
    assert description["manifest"] in index_files


def _hrefs(page) -> list[str]:
    return [link.get_attribute("href") for link in page.locator(f"{OPTIONS} a").all()]


def _shard_of(manifest: dict, term: str) -> str:
    keys = [utf16_order(first) for first in manifest["terms"]["first"]]
    number = bisect.bisect_right(keys, utf16_order(term)) - 1
    return f"index/terms/{number}.{manifest['terms']['files'][number]}.json"
