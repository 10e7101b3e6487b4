"""Hostile file names, headings and front matter, built with the real CLI and read in real
Chromium over a real static host: every page links to itself under its percent-encoded URL
(nav, sitemap, Markdown links, search results, `pagemind search`), and no search result,
passage, source or citation runs script or leads off the site, even when the index itself
names `javascript:` or foreign URLs. Script URLs in the docs are removed, in the config
refused."""

from __future__ import annotations

import json
import re
import urllib.request
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import expect
from site_helpers import broken_internal_urls, parse_html, run_cli, write_site

# Every payload sets window.__pwned; TRAP keeps what it is set to across navigations.
TRAP = """
Object.defineProperty(window, "__pwned", {
  set: (value) => sessionStorage.setItem("pwned", String(value)),
  get: () => sessionStorage.getItem("pwned") ?? undefined,
});
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (message) => sessionStorage.setItem("pwned", `${name}(${message})`);
}
"""
NO_WEBGPU = "Object.defineProperty(Navigator.prototype, 'gpu', {get: () => undefined})"
SCRIPT_NAME = "javascript:alert(document.domain)%2F%2F.md"
TAG_NAME = 'x"><img src=x onerror=window.__pwned=6>.md'
HOSTILE_TITLE = '"><img src=x onerror=window.__pwned=2> title'
# Docs file -> (a word only its body holds, the title its page shows).
PAGES = {
    "c#.md": ("sharpness", "C sharp"),
    "faq?.md": ("questions", "FAQ"),
    "with space.md": ("spacious", "With space"),
    "100%.md": ("hundred", "Percent"),
    "café.md": ("coffee", "Café"),
    SCRIPT_NAME: ("hostile", HOSTILE_TITLE),
    TAG_NAME: ("brackets", 'X"><img src=x onerror=window. pwned=6>'),  # "_" reads as " "
}
# Every page also holds "zebra", so one query finds them all.
DOCS = {
    "pagemind.toml": (
        'site_name = "Hostile"\n'
        'repo_url = "https://git.example/docs"\n'
        'edit_uri = "edit/main/docs/"\n'
    ),
    "docs/index.md": (
        "# Home\n\nLinks: "
        + ", ".join(f"[{name}]({quote(name)})" for name in PAGES)
        + ", [space](<with space.md>), [evil](javascript:window.__pwned=1), "
        "[evil too](JaVaScRiPt:window.__pwned=1).\n"
    ),
    "docs/c#.md": "# C sharp\n\nThe sharpness of zebra notes.\n",
    "docs/faq?.md": "# FAQ\n\nFrequently asked questions about zebra.\n",
    "docs/with space.md": "# With space\n\nA spacious zebra page.\n",
    "docs/100%.md": "# Percent\n\nOne hundred zebra percent.\n",
    "docs/café.md": "# Café\n\nCoffee for the zebra.\n",
    f"docs/{SCRIPT_NAME}": (
        "---\n"
        f"title: '{HOSTILE_TITLE}'\n"
        "description: '\"><script>window.__pwned=3</script>'\n"
        "---\n\n"
        "## Heading &lt;img src=x onerror=window.__pwned=4&gt; here\n\n"
        "A hostile zebra page.\n\n"
        "## Run \\<script>window.__pwned=5\\</script> now\n\n"
        "More hostile zebra words.\n"
    ),
    f"docs/{TAG_NAME}": "Angle brackets around a zebra.\n",
}
# What a tampered index may name instead of its pages' URLs: none of them may be followed.
FOREIGN_URLS = [
    "javascript:window.__pwned=11",
    "JaVaScRiPt:window.__pwned=12",
    "java\tscript:window.__pwned=13",
    "data:text/html,<script>window.__pwned=14</script>",
    "https://evil.example/",
    "//evil.example/x",
    "../../outside/",
    "vbscript:msgbox(15)",
]
OPTIONS = "#pagemind-search-results [role=option]"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_site(tmp_path_factory.mktemp("hostile"), DOCS)
    assert run_cli("build", root, "--no-check", "-q") == 0
    return root / "site"


@pytest.fixture
def context(browser):
    context = browser.new_context(service_workers="block")
    context.add_init_script(TRAP)
    context.dialogs = []
    context.on("dialog", lambda dialog: (context.dialogs.append(dialog.message), dialog.dismiss()))
    yield context
    context.close()


def page_url(source: str) -> str:
    return quote(source.removesuffix(".md"), safe="") + "/"


def test_every_page_links_to_itself_under_its_encoded_url(site, static_server, capsys) -> None:
    base = static_server(site, "/docs/")
    assert broken_internal_urls(site) == []
    home = parse_html(site / "index.html").urls
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    for source, (word, title) in PAGES.items():
        url = page_url(source)
        assert (site / source.removesuffix(".md") / "index.html").is_file()  # decoded on disk
        assert "./" + url in home  # the nav
        assert url in home  # the home page's Markdown links
        assert f"<loc>/{url}</loc>" in sitemap
        edit = f"https://git.example/docs/edit/main/docs/{quote(source)}"
        assert edit in parse_html(site / source.removesuffix(".md") / "index.html").urls
        assert run_cli("search", site.parent, word) == 0
        assert f" {url}" in capsys.readouterr().out
        assert title_at(base + url) == f"{title} · Hostile"


def test_offline_precache_names_every_page_by_its_encoded_url(tmp_path, static_server) -> None:
    files = {**DOCS, "pagemind.toml": DOCS["pagemind.toml"] + 'offline = "all"\n'}
    root = write_site(tmp_path, files)
    assert run_cli("build", root, "--no-check", "-q") == 0
    worker = (root / "site" / "sw.js").read_text(encoding="utf-8")
    precache = [url for url, _ in json.loads(re.search(r'"precache":(\[.*?\]\])', worker)[1])]
    base = static_server(root / "site", "/docs/")
    for source, (_, title) in PAGES.items():
        assert page_url(source) in precache
        assert title_at(base + page_url(source)) == f"{title} · Hostile"
    for url in precache:  # what the worker fetches when it installs
        with urllib.request.urlopen(base + url) as response:
            assert response.status == 200, url


def title_at(url: str) -> str:
    with urllib.request.urlopen(url) as response:
        html = response.read().decode()
    return unescape(re.search(r"<title>(.*?)</title>", html)[1])


def test_script_links_in_the_docs_are_removed_with_a_warning(site, capsys) -> None:
    assert run_cli("build", site.parent, "--no-check") == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "script URL" in line]
    assert len(warnings) == 2 and all("index.md:3:" in line for line in warnings)
    hrefs = [url for html in site.rglob("*.html") for url in parse_html(html).urls]
    assert not [url for url in hrefs if "script:" in url.lower()]


@pytest.mark.parametrize(
    ("config", "key", "why"),
    [
        ('repo_url = "javascript:window.__pwned=1"\n', "repo_url", "must be an http(s) URL"),
        ('nav = ["index.md", { "Evil" = "JavaScript:window.__pwned=1" }]\n', "nav", "script URL"),
    ],
)
def test_script_urls_in_the_config_stop_the_build(tmp_path, capsys, config, key, why) -> None:
    files = {"pagemind.toml": f'site_name = "Hostile"\n{config}', "docs/index.md": "# Home\n"}
    root = write_site(tmp_path, files)
    assert run_cli("build", root, "--no-check") == 1
    error = capsys.readouterr().err
    assert "pagemind.toml" in error and key in error and why in error, error
    assert "fix: " in error
    assert not (root / "site" / "index.html").exists()


@pytest.mark.browser
def test_search_results_open_their_own_page_and_never_run_script(
    context, site, static_server
) -> None:
    base = static_server(site, "/docs/")
    page = context.new_page()
    for source, (word, title) in PAGES.items():
        for how in ("click", "Enter"):
            search(page, base, word)
            link = page.locator(f"{OPTIONS} a").first
            target = link.get_attribute("href")
            assert target.startswith(base + page_url(source)), target
            if how == "click":
                link.click()
            else:
                page.keyboard.press("Enter")
            page.wait_for_url(target)
            expect(page).to_have_title(f"{title} · Hostile")
            assert_safe(page, context, base)
    # "zebra" finds every section: each one opens a page of the site.
    search(page, base, "zebra")
    count = page.locator(OPTIONS).count()
    assert count >= len(PAGES)
    for i in range(count):
        search(page, base, "zebra")
        with page.expect_navigation():
            page.locator(f"{OPTIONS} a").nth(i).click()
        assert_safe(page, context, base)


@pytest.mark.browser
def test_passage_sources_and_citations_open_their_own_page(context, site, static_server) -> None:
    context.add_init_script(NO_WEBGPU)  # the panel answers with the passage and search results
    base = static_server(site, "/docs/")
    page = context.new_page()
    for source, (word, _) in PAGES.items():
        links = panel_links(page, base, word)
        assert links and all(href.startswith(base) for href in links)
        assert any(href.startswith(base + page_url(source)) for href in links)
        for i, href in enumerate(links):
            panel_links(page, base, word)
            page.locator(".pm-turn a[href]").nth(i).click()
            page.wait_for_url(href)
            assert_safe(page, context, base)
    hrefs = citations(page, base)
    assert len(hrefs) >= len(PAGES)
    for i, href in enumerate(hrefs):
        citations(page, base)
        page.locator("a.pm-citation").nth(i).click()
        page.wait_for_url(href)
        assert_safe(page, context, base)


@pytest.mark.browser
def test_an_index_naming_foreign_urls_is_never_followed(context, site, static_server) -> None:
    context.route(re.compile(r".*/_pagemind/index/fragments/\d+\.[0-9a-f]+\.json$"), tamper)
    context.add_init_script(NO_WEBGPU)
    base = static_server(site, "/docs/")
    page = context.new_page()
    search(page, base, "zebra")
    assert page.locator(OPTIONS).count() >= len(PAGES)
    assert page.locator(f"{OPTIONS} a[href]").count() == 0
    page.keyboard.press("Enter")
    for i in range(page.locator(OPTIONS).count()):
        search(page, base, "zebra")
        page.locator(f"{OPTIONS} a").nth(i).click()
    page.wait_for_timeout(300)
    assert page.url == base
    assert panel_links(page, base, "zebra") == []
    assert page.locator(".pm-turn a").count() > 0  # shown, as words
    assert citations(page, base) == []
    assert_safe(page, context, base)


def tamper(route) -> None:
    """A real fragment of the index, each chunk's URL replaced by one of FOREIGN_URLS."""
    index = route.fetch().json()
    for i, chunk in enumerate(index["chunks"]):
        chunk["url"] = FOREIGN_URLS[i % len(FOREIGN_URLS)]
    route.fulfill(json=index)


def search(page, base: str, query: str) -> None:
    """Open the home page, type `query` and wait for its results."""
    page.goto(base)
    page.locator("#pagemind-search-input").click()
    page.keyboard.type(query)
    results = f"#pagemind-search-results[data-query={json.dumps(query)}] [role=option]"
    page.locator(results).first.wait_for()


def panel_links(page, base: str, question: str) -> list[str]:
    """The hrefs of the passage and the search results the panel shows for `question`."""
    page.goto(base)
    page.get_by_role("button", name="Ask the docs").click()
    page.locator("#pm-assistant-question").fill(question)
    page.locator("#pm-assistant-question").press("Enter")
    turn = page.locator(".pm-turn").last
    expect(turn.locator(".pm-answer")).to_have_attribute("aria-busy", "false")
    return [link.get_attribute("href") for link in turn.locator("a[href]").all()]


# An answer citing every section of the index, through the panel's own renderer.
CITE_ALL = """async () => {
  const { loadSite } = await import("./_pagemind/runtime/site.js");
  const { renderText } = await import("./_pagemind/runtime/render_text.js");
  const site = await loadSite();
  const index = await site.searchIndex();
  const chunks = await Promise.all([...Array(index.count).keys()].map((id) => index.chunk(id)));
  const text = chunks.map((chunk, i) => `Cited [${i + 1}].`).join(" ");
  const box = document.createElement("div");
  document.body.prepend(box);
  box.append(renderText(text, { siteRoot: site.root, sources: chunks }));
  return [...box.querySelectorAll("a")].map((link) => link.href);
}"""


def citations(page, base: str) -> list[str]:
    page.goto(base)
    return page.evaluate(CITE_ALL)


def assert_safe(page, context, base: str) -> None:
    """On a page of the site (not its 404), and no payload ran."""
    titles = {"Hostile"} | {f"{title} · Hostile" for _, title in PAGES.values()}
    assert page.title() in titles
    assert urlsplit(page.url).netloc == urlsplit(base).netloc
    assert urlsplit(page.url).path.startswith(urlsplit(base).path)
    assert page.evaluate("window.__pwned") is None
    assert context.dialogs == []
