"""The panel with the real SmolLM2-135M (on SwiftShader: slow, so one question with a short
budget) on a copy of example_site: the passage first, then an answer whose every shown
sentence cites a section the prompt held, and whose every piece of code is in those
sections word for word."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from assistant_site import EXAMPLE_SITE
from pagemind import cli
from pagemind.search_index import SiteIndex
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Greedy, and small enough for software emulation of WebGPU.
SETTINGS = {"context_tokens": 320, "max_new_tokens": 40, "temperature": 0}
# Its answer's first sentence ends within 40 tokens (one that quotes the deploying guide's
# first sentence does not, and a sentence cut off is never shown).
QUESTION = "How do I preview my site while I write?"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("smollm2")
    ignored = shutil.ignore_patterns("site", ".pagemind-cache")
    shutil.copytree(EXAMPLE_SITE, root, dirs_exist_ok=True, ignore=ignored)
    cache = EXAMPLE_SITE / ".pagemind-cache"
    if cache.is_dir():  # packages and embeddings made before; the build checks their keys
        shutil.copytree(cache, root / ".pagemind-cache", copy_function=os.link)
    config = (root / "pagemind.toml").read_text(encoding="utf-8")
    for key, value in SETTINGS.items():
        config = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", config)
    (root / "pagemind.toml").write_text(config, encoding="utf-8")
    assert cli.main(["build", str(root), "--no-check"]) == 0
    return root / "site"


def test_the_real_model_answers_only_with_what_the_docs_say(page, site, static_server):
    base = static_server(site)
    page.goto(base)
    page.get_by_role("button", name="Ask the docs").click()
    page.get_by_role("button", name=re.compile("^Download")).click()
    question = page.locator("#pm-assistant-question")
    expect(question).to_be_focused(timeout=300_000)
    question.fill(QUESTION)
    question.press("Enter")
    turn = page.locator(".pm-turn").last
    expect(turn.locator(".pm-passage")).to_contain_text("pagemind serve", timeout=300_000)
    answer = turn.locator(".pm-answer")
    expect(answer).to_have_attribute("aria-busy", "false", timeout=900_000)

    sources = turn.locator(".pm-sources a")
    hrefs = [sources.nth(i).get_attribute("href") for i in range(sources.count())]
    assert hrefs and len(set(hrefs)) == len(hrefs)
    texts = section_texts(site)
    quoted = "\n".join(texts[href.removeprefix(base)] for href in hrefs)
    for code in answer.locator("code").all_inner_texts():
        assert " ".join(code.split()) in " ".join(quoted.split()), code
    citations = answer.locator(".pm-citation")
    held = turn.locator(".pm-held-back li")
    assert citations.count() + held.count() > 0, "the model wrote nothing"
    paragraphs = answer.locator("p:not(.pm-assistant-note), li")
    assert citations.count() >= paragraphs.count()  # every shown sentence is cited
    for i in range(citations.count()):
        assert citations.nth(i).get_attribute("href") in hrefs
    assert page.console_errors == []


def section_texts(site: Path) -> dict[str, str]:
    """Each section's text by its URL, as the index holds it (chunks joined)."""
    texts: dict[str, str] = {}
    for chunk in SiteIndex.load(site).chunks:
        texts[chunk.url] = texts.get(chunk.url, "") + "\n\n" + chunk.text
    return texts
