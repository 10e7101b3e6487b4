"""Offline reading through the service worker, on a site served under /repo/ by a static host
that counts every request: first visit, offline reload, a rebuild's update, damaged and
broken-off model downloads."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from offline_site import build, service_worker_build
from playwright.sync_api import Page, expect
from static_host import StaticHost

pytestmark = pytest.mark.browser

# Resolves once the site's service worker is active and keeps this page for offline reading.
WAIT_ACTIVATED = """async () => {
  const started = Date.now();
  const pause = async (what) => {
    if (Date.now() - started > 30000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  };
  let registration;
  while (!(registration = await navigator.serviceWorker.getRegistration())?.active) {
    await pause("the service worker to install");
  }
  while (registration.active.state !== "activated") await pause("its activation");
  while (!(await caches.match(location.href))) await pause("this page to be kept");
  return registration.active.scriptURL;
}"""

# Loads a model of the site through the runtime worker; the sources its bytes came from.
LOAD_MODEL = """async ([siteModule, role]) => {
  const { loadSite } = await import(siteModule);
  const site = await loadSite();
  const sources = new Set();
  await site.loadModel(role, ({ source }) => sources.add(source));
  return [...sources];
}"""

GENERATE = """async (siteModule) => {
  const { loadSite } = await import(siteModule);
  const runtime = await (await loadSite()).runtime();
  const { tokens } = await runtime.generate("Offline?", { maxTokens: 4, temperature: 0 });
  return tokens.length;
}"""

LOAD_ERROR = """async ([siteModule, role]) => {
  const { loadSite } = await import(siteModule);
  try {
    await (await loadSite()).loadModel(role);
    return null;
  } catch (error) {
    return error.message;
  }
}"""

FETCH_ALL = """async (urls) => {
  const failed = [];
  for (const url of urls) {
    const response = await fetch(url).catch(() => null);
    if (!response?.ok) failed.push(url);
  }
  return failed;
}"""

CACHE_NAMES = "async () => await caches.keys()"


def site_module(host: StaticHost) -> str:
    return host.url + "_pagemind/runtime/site.js"


def first_visit(page: Page, host: StaticHost, path: str = "") -> None:
    """Open a page, let the service worker install, and load the generator once."""
    page.goto(host.url + path)
    assert page.evaluate(WAIT_ACTIVATED) == host.url + "sw.js"
    assert page.evaluate(LOAD_MODEL, [site_module(host), "generator"]) == ["network"]


def accept_update(page: Page, host: StaticHost) -> list:
    """Click the update banner's Reload, load the generator again (from the cache), and
    return the requests the host saw since its log was last taken."""
    with page.expect_navigation():  # the new build's worker took over: the page reloads
        page.get_by_role("button", name="Reload").click()
    page.evaluate(WAIT_ACTIVATED)
    assert page.locator(".pagemind-update").count() == 0
    assert page.evaluate(LOAD_MODEL, [site_module(host), "generator"]) == ["cache"]
    return host.take_log()


def model_requests(log: list) -> list:
    return [served for served in log if served.path.startswith("_pagemind/models/")]


def test_a_visited_site_reads_offline_with_its_search_files_and_model(
    page: Page, example_source: Path, host
):
    served = host(example_source / "site")
    first_visit(page, served, "guides/deploying/")
    page.context.set_offline(True)

    page.reload()
    assert page.locator("h1").first.inner_text().startswith("Deploying")
    build_info = service_worker_build(example_source / "site")
    precached = [served.url + url.removeprefix("./") for url, _ in build_info["precache"]]
    assert served.url + "_pagemind/site.json" in precached
    assert page.evaluate(FETCH_ALL, precached) == []
    assert page.evaluate(LOAD_MODEL, [site_module(served), "generator"]) == ["cache"]
    assert page.evaluate(GENERATE, site_module(served)) == 4

    # A page never visited: a plain explanation instead of the browser's error page.
    page.goto(served.url + "reference/cli/")
    assert "You are offline" in page.locator("h1").inner_text()
    assert page.console_errors.pop().endswith("status of 503 ()")
    page.context.set_offline(False)
    page.goto(served.url + "reference/cli/")
    assert page.locator("h1").first.inner_text().startswith("Command-line reference")
    assert page.console_errors == [], page.console_errors


def edit_and_rebuild(root: Path, source: str, edit) -> tuple[dict, set[str]]:
    """Rewrite `source` (relative to the site folder) with `edit(text)` and rebuild; the new
    sw.js BUILD and the precached files whose revision changed."""
    before = dict(service_worker_build(root / "site")["precache"])
    path = root / source
    path.write_text(edit(path.read_text()))
    build(root)
    after = service_worker_build(root / "site")
    changed = {url for url, revision in after["precache"] if before.get(url) != revision}
    return after, changed


def test_after_a_one_page_edit_the_next_visit_fetches_that_page_and_no_model(
    page: Page, own_source: Path, host
):
    served = host(own_source / "site")
    first_visit(page, served)
    _, changed = edit_and_rebuild(
        own_source, "docs/guides/deploying.md", lambda text: text + "\n\nEdited offline.\n"
    )
    assert any(url.startswith("_pagemind/index/") for url in changed)  # the search index
    served.take_log()

    page.goto(served.url + "guides/deploying/")
    page.get_by_text("Edited offline.").wait_for()
    log = accept_update(page, served)
    fetched = {request.path for request in log}
    assert "guides/deploying/" in fetched
    assert changed <= fetched
    # Of the site's own files, only what changed (and the entry, fetched network-first).
    assert {path for path in fetched if path.startswith("_pagemind/")} <= changed | {
        "_pagemind/site.json"
    }
    assert model_requests(log) == []
    assert page.console_errors == [], page.console_errors


def test_a_new_build_offers_a_reload_and_replaces_the_old_worker_cleanly(
    page: Page, own_source: Path, host
):
    served = host(own_source / "site")
    first_visit(page, served)
    new_build, changed = edit_and_rebuild(
        own_source,
        "pagemind.toml",
        lambda text: text.replace('pygments_style = "default"', 'pygments_style = "friendly"'),
    )
    served.take_log()

    page.reload()
    banner = page.locator(".pagemind-update")
    banner.wait_for()
    assert "A new version of these docs is available" in banner.inner_text()
    # Until the reader reloads, the open page keeps working with the old worker.
    assert page.evaluate("() => document.styleSheets.length") >= 2
    log = accept_update(page, served)

    names = page.evaluate(CACHE_NAMES)
    assert [n for n in names if ":precache:" in n] == [
        f"pagemind:/repo/:precache:{new_build['version']}"
    ]
    assert "pagemind-models" in names
    assert model_requests(log) == []
    # Files whose revision did not change were copied from the old worker's cache.
    kept = {url for url, _ in new_build["precache"]} - changed
    assert "_pagemind/runtime/page.js" in kept
    assert [r.path for r in log if r.path in kept and r.path != "_pagemind/site.json"] == []
    assert any("pygments" in r.path for r in log)
    assert page.console_errors == [], page.console_errors


def test_a_corrupted_shard_is_fetched_once_more_then_reported(
    page: Page, example_source: Path, host, tmp_path: Path
):
    output = Path(shutil.copytree(example_source / "site", tmp_path / "site"))
    [shard] = sorted((output / "_pagemind" / "models" / "generator").glob("*.bin"))
    damaged = bytearray(shard.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    shard.unlink()  # never write through a hard link into the package cache
    shard.write_bytes(bytes(damaged))
    served = host(output)

    page.goto(served.url)
    message = page.evaluate(LOAD_ERROR, [site_module(served), "generator"])
    assert message and "does not match its sha256" in message and shard.name in message
    fetched = [r for r in served.take_log() if r.path.endswith(shard.name)]
    assert len(fetched) == 2


# Loads a model through the loader alone (no GPU): the byte counts it reported.
LOAD_BYTES = """async ([loaderModule, manifestUrl]) => {
  const { loadModel } = await import(loaderModule);
  let last = null;
  const { shards } = await loadModel(manifestUrl, { onProgress: (event) => (last = event) });
  return { shards: shards.map((shard) => shard.length), loaded: last.loaded, total: last.total };
}"""


@pytest.mark.parametrize("ranges", [True, False], ids=["resumed", "restarted"])
def test_a_download_that_breaks_off_resumes_or_restarts(
    page: Page, example_source: Path, host, ranges: bool
):
    output = example_source / "site"
    served = host(output)
    served.honour_ranges = ranges
    folder = output / "_pagemind" / "models" / "embedder"
    [manifest] = folder.glob("manifest.*.json")
    shard = sorted(folder.glob("*.bin"))[0]
    served.cut_once.add(f"_pagemind/models/embedder/{shard.name}")

    page.goto(served.url + "404.html")  # a page the service worker does not control yet
    result = page.evaluate(
        LOAD_BYTES,
        [
            served.url + "_pagemind/runtime/loader.js",
            f"{served.url}_pagemind/models/embedder/{manifest.name}",
        ],
    )
    assert result["loaded"] == result["total"]
    first, second = [r for r in served.take_log() if r.path.endswith(shard.name)]
    size = shard.stat().st_size
    assert first.range is None and first.bytes == size // 2  # the host broke off there
    assert second.range is not None and second.range.startswith("bytes=")
    if ranges:  # continued from the last byte the browser received
        start = int(second.range.removeprefix("bytes=").rstrip("-"))
        assert 0 < start <= size // 2
        assert (second.status, second.bytes) == (206, size - start)
    else:  # the host sent it all again: the loader started over
        assert (second.status, second.bytes) == (200, size)


def test_offline_all_keeps_every_page_after_one_visit(page: Page, tmp_path: Path, host):
    root = tmp_path / "docs-only"
    (root / "docs" / "guide").mkdir(parents=True)
    (root / "pagemind.toml").write_text(
        'site_name = "All offline"\noffline = "all"\n\n[assistant]\nenabled = false\n'
        '[theme]\nfavicon = "icon.svg"\n'  # else the browser asks the host for /favicon.ico
    )
    (root / "docs" / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (root / "docs" / "index.md").write_text("# Home\n\nSee [the guide](guide/setup.md).\n")
    (root / "docs" / "guide" / "setup.md").write_text("# Setup\n\nNever opened online.\n")
    output = build(root)
    assert {"./", "guide/setup/"} <= {url for url, _ in service_worker_build(output)["precache"]}
    served = host(output)

    page.goto(served.url)
    page.evaluate(WAIT_ACTIVATED)
    page.context.set_offline(True)
    page.goto(served.url + "guide/setup/")
    page.get_by_text("Never opened online.").wait_for()
    assert [r.path for r in served.take_log() if r.path == "guide/setup/"] == ["guide/setup/"]
    assert page.console_errors == [], page.console_errors


# The loader under a storage quota too small for the model: what the reader is told.
LOAD_OVER_QUOTA = """async ([root, manifestUrl]) => {
  const { loadModel } = await import(root + "_pagemind/runtime/loader.js");
  const offline = await import(root + "_pagemind/runtime/offline.js");
  const warnings = [];
  const { shards } = await loadModel(manifestUrl, { onWarning: (w) => warnings.push(w) });
  // The browser counts what the pages' cache holds a moment after it is written.
  let status = await offline.storageStatus();
  for (let tries = 0; !status.usage && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = await offline.storageStatus();
  }
  return {
    shards: shards.length,
    warnings,
    told: warnings.map((warning) => offline.describeStorageError(warning)),
    status,
    persisted: await offline.requestPersistence(),
  };
}"""


def test_a_full_storage_quota_is_explained_and_the_model_still_loads(
    page: Page, example_source: Path, host
):
    served = host(example_source / "site")
    page.goto(served.url + "404.html")
    quota = 200_000  # less than the embedder's shards
    session = page.context.new_cdp_session(page)
    origin = served.url.removesuffix(served.prefix)
    session.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": quota})
    [manifest] = (example_source / "site" / "_pagemind" / "models" / "embedder").glob("manifest.*")
    manifest_url = f"{served.url}_pagemind/models/embedder/{manifest.name}"
    result = page.evaluate(LOAD_OVER_QUOTA, [served.url, manifest_url])
    assert result["shards"] >= 1
    assert result["warnings"] and all("QuotaExceededError" in w for w in result["warnings"])
    assert all("no room left" in told and "Search keeps working" in told for told in result["told"])
    status = result["status"]
    assert 0 < status["usage"] < status["quota"]  # estimate() ignores the test's override
    assert isinstance(status["persisted"], bool) and isinstance(result["persisted"], bool)


def test_the_assistant_panel_answers_offline(page: Page, example_source: Path, host):
    served = host(example_source / "site")
    page.goto(served.url + "getting-started/")
    page.evaluate(WAIT_ACTIVATED)
    page.get_by_role("button", name="Ask the docs").click()
    page.get_by_role("button", name=re.compile(r"^Download .* and start$")).click()
    question = page.locator("#pm-assistant-question")
    expect(question).to_be_focused(timeout=180_000)  # both models loaded
    page.context.set_offline(True)

    page.reload()
    page.get_by_role("button", name="Ask the docs").click()
    expect(question).to_be_focused(timeout=180_000)  # from the cache, nothing offered
    question.fill("How do I preview my site while I edit it?")
    question.press("Enter")
    turn = page.locator(".pm-turn").first
    expect(turn.locator(".pm-passage")).to_contain_text("pagemind serve", timeout=180_000)
    expect(turn.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    expect(turn.locator(".pm-sources a").first).to_be_visible()
    assert turn.locator(".pm-answer").inner_text().strip()
    assert page.console_errors == [], page.console_errors


def test_searches_offline_find_the_index_files_fetched_online_and_say_what_is_missing(
    page: Page, example_source: Path, host
):
    output = example_source / "site"
    build_info = service_worker_build(output)
    precached = [url for url, _ in build_info["precache"] if url.startswith("_pagemind/index/")]
    assert precached == [build_info["index"]["manifest"]]  # the rest as queries fetch it
    served = host(output)
    page.goto(served.url)
    page.evaluate(WAIT_ACTIVATED)
    search_box_results(page, "deploy")
    page.context.set_offline(True)

    page.reload()
    links = search_box_results(page, "deploy")
    assert served.url + "guides/deploying/" in [link.split("#")[0] for link in links]

    page.locator("#pagemind-search-input").fill(_term_of_another_shard(output, "deploy"))
    status = page.locator(".pm-search-status")
    expect(status).to_contain_text("not downloaded before going offline", timeout=30_000)
    assert page.locator(SEARCH_RESULTS).count() == 0
    page.context.set_offline(False)
    search_box_results(page, "deploy gh-pages branch")  # online again: fetched as needed


SEARCH_RESULTS = "#pagemind-search-results [role=option]"


def search_box_results(page: Page, query: str) -> list[str]:
    """Type `query` into the search box; the links of its results once they show."""
    page.locator("#pagemind-search-input").fill(query)
    page.locator(f"#pagemind-search-results[data-query='{query}'] [role=option]").first.wait_for()
    return [link.get_attribute("href") for link in page.locator(f"{SEARCH_RESULTS} a").all()]


def _term_of_another_shard(output: Path, term: str) -> str:
    """An index term in the last term shard, which holds no term before `term`."""
    bundle = output / "_pagemind"
    manifest_path = json.loads((bundle / "site.json").read_text())["index"]["manifest"]
    shards = json.loads((bundle / manifest_path).read_text())["terms"]
    assert shards["first"][-1] > term
    return shards["first"][-1]
