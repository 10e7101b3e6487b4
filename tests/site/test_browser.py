"""The built example site in Chromium under a sub-path: navigation, TOC, dark mode, mobile."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import REPO
from site_helpers import run_cli


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("example_site")
    assert (
        run_cli("build", REPO / "example_site", "-o", out, "--base-url", "/repo/", "--no-check")
        == 0
    )
    return out


@pytest.mark.browser
def test_reader_navigates_toggles_dark_mode_and_uses_the_mobile_menu(
    page, static_server, built_site: Path, artifacts: Path
) -> None:
    base = static_server(built_site, "/repo/")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(base)
    page.screenshot(path=artifacts / "site-home.png")

    page.locator("#site-nav a", has_text="Getting started").click()
    page.wait_for_url(base + "getting-started/")
    assert page.locator('#site-nav a[aria-current="page"]').inner_text() == "Getting started"
    assert page.locator(".highlight .copy-button").count() > 0

    toc_link = page.locator(".toc a").nth(1)
    anchor = toc_link.get_attribute("href")
    toc_link.click()
    page.wait_for_url(base + "getting-started/" + anchor)
    assert page.locator(anchor).is_visible()
    page.screenshot(path=artifacts / "site-light.png")

    page.locator(".theme-toggle").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()  # the choice survives a reload, applied before the first paint
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.screenshot(path=artifacts / "site-dark.png")

    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.locator("#site-nav").is_visible()
    page.screenshot(path=artifacts / "site-mobile.png")
    page.locator(".nav-toggle").click()
    page.screenshot(path=artifacts / "site-mobile-menu.png")
    page.locator("#site-nav a", has_text="Troubleshooting").click()
    page.wait_for_url(base + "troubleshooting/")
    page.screenshot(path=artifacts / "site-mobile-page.png")

    # The server answers any missing URL with 404.html (as GitHub Pages does), at any depth.
    page.goto(base + "no/such/page/")
    assert page.locator("h1").inner_text() == "Page not found"
    # Chromium logs the 404 status of the page itself; nothing else may fail.
    assert page.console_errors.pop().endswith("404 (Not Found)")
    header = page.locator(".site-header")
    assert header.evaluate("element => getComputedStyle(element).position") == "sticky"
    page.locator(".site-title").click()
    page.wait_for_url(base)
    assert page.console_errors == []
