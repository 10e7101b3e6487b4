"""The search box on the built example site in Chromium: typing, highlighting, keyboard,
sub-path hosting, the narrow header, errors shown in the panel, and text from the docs that
is never parsed as HTML."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from search_ui_helpers import INPUT, OPTIONS, PANEL, build, open_page, type_query


@pytest.mark.browser
def test_results_under_a_sub_path_are_highlighted_and_the_keyboard_opens_the_section(
    page, static_server, built_site: Path, artifacts: Path
) -> None:
    base = static_server(built_site, "/repo/")
    open_page(page, base + "getting-started/")

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "pagemind-search-input"
    type_query(page, "gh-deploy branch")

    hrefs = [link.get_attribute("href") for link in page.locator(f"{OPTIONS} a").all()]
    assert base + "guides/deploying/#gh-deploy" in hrefs
    assert all(href.startswith(base) for href in hrefs)
    first = page.locator(OPTIONS).first
    marked = [text.lower() for text in first.locator("mark").all_inner_texts()]
    assert marked and all(word.startswith(("gh", "deploy", "branch")) for word in marked)
    assert first.locator(".pm-hit-title").inner_text()
    snippets = page.locator(f"{OPTIONS} .pm-hit-snippet").all_inner_texts()
    assert snippets[0] and not any("`" in snippet for snippet in snippets)  # words, no markup
    page.screenshot(path=artifacts / "search-light.png")

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    second = page.locator(OPTIONS).nth(1)
    assert page.locator(INPUT).get_attribute("aria-activedescendant") == second.get_attribute("id")
    assert second.get_attribute("aria-selected") == "true"
    assert page.locator(OPTIONS).first.get_attribute("aria-selected") == "false"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # wraps around to the last result
    last = page.locator(OPTIONS).last
    assert last.get_attribute("aria-selected") == "true"

    target = last.locator("a").get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(target)
    anchor = target.split("#", 1)[1]
    assert page.locator(f"[id='{anchor}']").count() == 1
    assert page.console_errors == []


@pytest.mark.browser
def test_shortcuts_escape_no_results_and_dark_mode(
    page, static_server, built_site: Path, artifacts: Path
) -> None:
    base = static_server(built_site)
    page.add_init_script("localStorage.setItem('pagemind-theme', 'dark')")
    open_page(page, base)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"

    page.keyboard.press("Control+k")
    assert page.evaluate("document.activeElement.id") == "pagemind-search-input"
    type_query(page, "sub-path hosting")
    assert page.locator(INPUT).get_attribute("aria-expanded") == "true"
    page.screenshot(path=artifacts / "search-dark.png")

    page.keyboard.press("Escape")
    assert page.locator(PANEL).is_hidden()
    assert page.locator(INPUT).get_attribute("aria-expanded") == "false"
    page.keyboard.press("Escape")
    assert page.locator(INPUT).input_value() == ""

    page.keyboard.type("qzxwvj")
    status = page.locator(".pm-search-status")
    status.filter(has_text="No results for “qzxwvj”").wait_for()
    assert page.locator(OPTIONS).count() == 0

    # `/` typed inside the field is a character, not the shortcut.
    page.keyboard.press("Control+a")
    page.keyboard.type("a/b")
    assert page.locator(INPUT).input_value() == "a/b"

    # A half-typed word finds its sections; Enter right after typing opens the best one.
    page.keyboard.press("Control+a")
    page.keyboard.type("admon")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "guides/writing-content/#admonitions")
    assert page.console_errors == []


@pytest.mark.browser
def test_the_narrow_header_widens_the_field_while_it_has_focus(
    page, static_server, built_site: Path, artifacts: Path
) -> None:
    base = static_server(built_site, "/repo/")
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, base + "guides/writing-content/")
    field = page.locator(INPUT)
    assert field.bounding_box()["width"] < 60  # an icon in the header

    field.click()
    type_query(page, "admonitions")
    box = field.bounding_box()
    assert box["width"] > 300
    panel = page.locator(PANEL).bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390
    page.screenshot(path=artifacts / "search-mobile.png")

    page.locator(f"{OPTIONS} a").first.click()
    page.wait_for_url("**/guides/writing-content/#admonitions")
    assert page.console_errors == []


@pytest.mark.browser
def test_an_index_missing_from_the_server_is_reported_in_the_panel(
    page, static_server, built_site: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(built_site, broken, copy_function=os.link)
    shutil.rmtree(broken / "_pagemind" / "index")  # a deploy that lost its index files
    open_page(page, static_server(broken))
    page.locator(INPUT).click()
    page.keyboard.type("deploy")
    status = page.locator(".pm-search-status")
    status.filter(has_text="Search is unavailable").wait_for()
    assert "HTTP 404" in status.inner_text()
    assert page.locator(OPTIONS).count() == 0
    # The only console errors are the browser's own reports of the failed requests.
    assert all("404" in error for error in page.console_errors)


@pytest.mark.browser
def test_text_from_the_docs_is_shown_never_run(page, static_server, tmp_path: Path) -> None:
    attack = '<img src="x" onerror="window.pwned = 1"><script>window.pwned = 2</script>'
    site = tmp_path / "site"
    (site / "docs" / "img").mkdir(parents=True)
    (site / "docs" / "img" / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (site / "pagemind.toml").write_text(
        'site_name = "Injection"\n[theme]\nfavicon = "img/icon.svg"\n[assistant]\nenabled = false\n'
    )
    (site / "docs" / "index.md").write_text("# Home\n\nNothing to see.\n")
    (site / "docs" / "tricky.md").write_text(f"# Tricky\n\n## Markup\n\nThe string `{attack}`.\n")
    out = build(site, tmp_path / "out")
    open_page(page, static_server(out))
    page.locator(INPUT).click()
    type_query(page, "onerror")
    panel = page.locator(PANEL)
    assert "onerror" in panel.inner_text()
    assert panel.locator("img, script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert json.loads((out / "_pagemind" / "site.json").read_text())["index"]
    assert page.console_errors == []
