"""The assistant panel in real Chromium (WebGPU on SwiftShader), on a built copy of
example_site served over HTTP: a scripted test model generates (it writes sentences of the
docs with a made-up command planted among them, see assistant_site.py), the real MiniLM
embeds.

Checked: the download offer and its size, the progress bar, the passage shown before any
generation, the answer streamed sentence by sentence with citation links to real anchors,
the planted command never shown as the answer but listed under "Why this answer", sources
never listed twice, stop, follow-ups, copy, ratings and their export, a second visit from
cache, the docs not covering a question, the fallbacks (with the passage), the search popup
making way for the panel, a pasted 100 KB question cut to the window, and that no text from
the docs, the reader or the model runs as HTML.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from assistant_site import INVENTED, QUESTION, build_assistant_site
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Records, in the page, every value the progress bar takes, every text the answer being
# written shows (and whether the passage was there by then), and counts animation frames
# and timer ticks (the page's liveness).
WATCH = """() => {
  window.seen = {progress: [], answers: [], frames: 0, ticks: 0};
  const panel = document.querySelector("#pm-assistant");
  new MutationObserver(() => {
    const bar = panel.querySelector("progress");
    if (bar) window.seen.progress.push(Number(bar.value));
    const turns = panel.querySelectorAll(".pm-turn");
    const turn = turns[turns.length - 1];
    const answer = turn?.querySelector(".pm-answer");
    const written = answer && [...answer.children].filter((c) => !c.matches(".pm-assistant-note"));
    if (written?.length) {
      const text = written.map((c) => c.textContent).join("\\n");
      window.seen.answers.push({text, passage: Boolean(turn.querySelector(".pm-passage"))});
    }
  }).observe(panel, {subtree: true, childList: true, attributes: true, characterData: true});
  const frame = () => { window.seen.frames++; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  setInterval(() => window.seen.ticks++, 50);
}"""

# The page's own runtime (the same module instances the panel uses) destroys its device.
LOSE_DEVICE = """async (base) => {
  const { loadSite } = await import(base + "_pagemind/runtime/site.js");
  await (await (await loadSite()).runtime()).debugLoseDevice();
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_assistant_site(tmp_path_factory.mktemp("assistant"))


@pytest.fixture
def context(browser):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    context.console_errors = []
    context.on("console", lambda m: m.type == "error" and context.console_errors.append(m.text))
    context.on("weberror", lambda error: context.console_errors.append(str(error.error)))
    yield context
    context.close()


def watch(page) -> None:
    """Starts WATCH once the panel is mounted."""
    expect(page.get_by_role("button", name="Ask the docs")).to_be_visible()
    page.evaluate(WATCH)


def open_panel(page):
    page.get_by_role("button", name="Ask the docs").click()
    expect(page.get_by_role("dialog", name="Ask the docs")).to_be_visible()


def ask(page, question: str) -> None:
    page.locator("#pm-assistant-question").fill(question)
    page.locator("#pm-assistant-question").press("Enter")


def anchor_exists(site: Path, base: str, href: str) -> bool:
    """Whether `href` (absolute, under `base`) names a built page holding its anchor."""
    parts = urlsplit(href)
    path = parts.path.removeprefix(urlsplit(base).path)
    page = site / path / "index.html" if not path or path.endswith("/") else site / path
    html = page.read_text(encoding="utf-8") if page.is_file() else ""
    return bool(html) and f'id="{parts.fragment}"' in html


def test_first_visit_download_answer_stop_follow_up_and_cache(
    context, site, static_server, artifacts
):
    base = static_server(site, "/docs/")
    page = context.new_page()
    page.goto(base + "getting-started/")
    watch(page)
    open_panel(page)
    # First open: what will be downloaded, and its size, before anything is fetched.
    offer = page.get_by_role("button", name=re.compile(r"^Download \d+\.\d MB and start$"))
    expect(offer).to_be_visible()
    expect(page.locator(".pm-assistant-status")).to_contain_text("search model")
    page.screenshot(path=artifacts / "assistant-offer.png")
    offer.click()
    expect(page.locator("#pm-assistant-question")).to_be_focused(timeout=180_000)
    expect(page.locator(".pm-assistant-status progress")).to_have_count(0)
    progress = page.evaluate("window.seen.progress")
    assert max(progress) > 0 and len(set(progress)) > 2  # the bar moved, in bytes
    expect(page.locator(".pm-assistant-storage")).to_contain_text("Stored on this device: ")

    frames_before = page.evaluate("window.seen.frames")
    ask(page, QUESTION)
    turn = page.locator(".pm-turn").first
    expect(turn.locator(".pm-passage")).to_contain_text("From the docs", timeout=120_000)
    expect(turn.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    answers = page.evaluate("window.seen.answers")
    assert len({seen["text"] for seen in answers}) > 3  # streamed, sentence by sentence
    assert all(seen["passage"] for seen in answers)  # the passage came first
    assert not any("--force-push" in seen["text"] for seen in answers)  # never, not even once
    assert page.evaluate("window.seen.frames") - frames_before > 10  # the page kept painting
    answer = turn.locator(".pm-answer")
    expect(answer.locator(".pm-citation").first).to_be_visible()
    why = turn.locator(".pm-why")
    why.locator("summary").click()
    expect(why).to_contain_text(INVENTED.removesuffix("."))
    expect(why).to_contain_text("code not in the docs")
    # The script then repeats itself: the answer shows each sentence once.
    expect(why).to_contain_text("repeats an earlier sentence")
    expect(answer.locator(".pm-assistant-note")).to_have_count(0)  # not stopped, not cut off
    shown = re.split(r"(?<=[.!?])\s+", answer.inner_text().strip())
    assert len(shown) == len(set(shown)) > 2
    sources = turn.locator(".pm-sources a")
    hrefs = [sources.nth(i).get_attribute("href") for i in range(sources.count())]
    citations = answer.locator(".pm-citation")
    cited = [citations.nth(i).get_attribute("href") for i in range(citations.count())]
    quoted = turn.locator(".pm-passage-source a, .pm-passage-also-source a")
    passage_links = [quoted.nth(i).get_attribute("href") for i in range(quoted.count())]
    assert hrefs and len(set(hrefs)) == len(hrefs)  # no section twice
    assert set(cited) <= set(hrefs)
    assert all(anchor_exists(site, base, href) for href in [*hrefs, *passage_links])
    page.screenshot(path=artifacts / "assistant-answer.png")

    # A citation link opens the exact section.
    first = cited[0]
    page.goto(first)
    assert page.evaluate("location.hash") == "#" + urlsplit(first).fragment
    assert page.locator(urlsplit(first).fragment.join(['[id="', '"]'])).count() == 1
    page.goto(base + "getting-started/")

    # Second visit: models come from this browser's cache, no question asked.
    watch(page)
    open_panel(page)
    expect(page.locator("#pm-assistant-question")).to_be_focused(timeout=120_000)
    expect(page.get_by_role("button", name=re.compile("^Download"))).to_have_count(0)
    expect(page.locator(".pm-assistant-status progress")).to_have_count(0, timeout=120_000)

    # Asked again, the question is answered at once from this browser; "Ask again" generates.
    # Stop mid-answer: as soon as the passage shows, the model starts writing.
    ask(page, QUESTION)
    page.get_by_role("button", name="Ask again").click()
    stop = page.get_by_role("button", name="Stop")
    answer = page.locator(".pm-turn").last.locator(".pm-answer")
    expect(page.locator(".pm-turn").last.locator(".pm-passage")).to_be_visible(timeout=120_000)
    stop.click()
    expect(answer).to_contain_text("Stopped.", timeout=60_000)
    expect(stop).to_be_hidden()

    # A follow-up: the conversation goes on in the same log.
    ticks_before = page.evaluate("window.seen.ticks")
    ask(page, "And with GitHub Actions?")
    expect(page.locator(".pm-turn")).to_have_count(3)
    last = page.locator(".pm-turn").last
    expect(last.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    assert page.evaluate("window.seen.ticks") - ticks_before > 5  # timers ran meanwhile
    expect(last.locator(".pm-question")).to_have_text("And with GitHub Actions?")

    # A pasted 100 KB question is cut to the model's window (2,048 tokens, so as many
    # characters) before it is searched or tokenized, and answered like any other.
    ask(page, "How do I deploy? " + "x" * 100_000)
    last = page.locator(".pm-turn").last
    expect(last.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    assert len(last.locator(".pm-question").text_content()) == 2048
    assert context.console_errors == []


def test_copy_rate_and_export(context, site, static_server, tmp_path):
    page = context.new_page()
    base = static_server(site)
    page.goto(base + "guides/deploying/")
    open_panel(page)
    page.get_by_role("button", name=re.compile("^Download")).click()
    expect(page.locator("#pm-assistant-question")).to_be_focused(timeout=180_000)

    # The docs do not cover it: said plainly, with the nearest sections, nothing generated.
    ask(page, "What is the capital of Australia?")
    off_topic = page.locator(".pm-turn").first
    expect(off_topic.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    expect(off_topic.locator(".pm-answer")).to_contain_text("The docs do not cover this")
    expect(off_topic.locator(".pm-sources[aria-label='Nearest sections'] a").first).to_be_visible()
    assert off_topic.locator(".pm-passage, .pm-why, .pm-actions").count() == 0

    ask(page, QUESTION)
    turn = page.locator(".pm-turn").nth(1)
    expect(turn.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    turn.get_by_role("button", name="Copy").click()
    expect(turn.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    shown = turn.locator(".pm-answer").inner_text().strip()
    assert copied.replace("`", "").startswith(shown[:20])  # the answer, as Markdown
    assert "\n\n[1] " in copied  # the sources follow the answer

    turn.get_by_role("button", name="Helpful", exact=True).click()
    expect(turn.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    stored = json.loads(page.evaluate("localStorage.getItem('pagemind-assistant-feedback')"))
    assert [entry["rating"] for entry in stored] == ["up"]
    assert stored[0]["question"] == QUESTION and stored[0]["sources"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Export ratings (1)").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert exported["format"] == "pagemind-feedback/1"
    assert exported["feedback"][0]["answer"] == stored[0]["answer"]

    # The GPU device is lost: the panel says so, the runtime restarts it, answers go on.
    page.evaluate(LOSE_DEVICE, base)
    status = page.locator(".pm-assistant-status")
    expect(status).to_contain_text("The GPU was reset")
    expect(status).to_be_empty(timeout=120_000)
    ask(page, "How do I preview my site?")
    last = page.locator(".pm-turn").last
    expect(last.locator(".pm-answer")).to_have_attribute("aria-busy", "false", timeout=120_000)
    assert last.locator(".pm-actions").count() == 1  # a full answer, not an error
    assert context.console_errors == []


def test_without_webgpu_the_panel_says_why_and_searches(context, site, static_server, artifacts):
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'gpu', {get: () => undefined})"
    )
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 800})  # a phone, in dark mode
    page.emulate_media(color_scheme="dark")
    page.goto(static_server(site))
    open_panel(page)
    assert page.locator("#pm-assistant").bounding_box()["width"] == 390
    status = page.locator(".pm-assistant-status")
    expect(status).to_contain_text("does not offer WebGPU")
    expect(page.locator("#pm-assistant-question")).to_be_focused()
    expect(page.get_by_role("button", name="Search", exact=True)).to_be_visible()
    ask(page, QUESTION)
    turn = page.locator(".pm-turn").last
    expect(turn.locator(".pm-sources[aria-label='Search results'] a").first).to_be_visible()
    expect(turn.locator(".pm-passage")).to_contain_text("gh-deploy")  # the docs' own words
    page.screenshot(path=artifacts / "assistant-no-webgpu-phone-dark.png")
    page.keyboard.press("Escape")  # closes, and gives the focus back to the button
    expect(page.get_by_role("button", name="Ask the docs")).to_be_focused()
    page.keyboard.press("Control+i")
    expect(page.locator("#pm-assistant-question")).to_be_focused()
    assert context.console_errors == []


def test_the_search_popup_makes_way_for_the_panel(context, site, static_server):
    page = context.new_page()
    page.goto(static_server(site))
    page.locator("#pagemind-search-input").fill("deploy")
    expect(page.locator(".pm-search-panel")).to_be_visible()
    open_panel(page)
    expect(page.locator(".pm-search-panel")).to_be_hidden()
    assert context.console_errors == []


def test_a_model_that_fails_to_load_falls_back_to_search(context, site, static_server):
    # The generator's program is missing on this server: the load fails, visibly.
    def missing(route):
        route.fulfill(status=404, body="gone")

    context.route(re.compile(r".*/models/generator/program\..*\.json$"), missing)
    context.console_errors.clear()
    page = context.new_page()
    page.goto(static_server(site))
    open_panel(page)
    page.get_by_role("button", name=re.compile("^Download")).click()
    status = page.locator(".pm-assistant-status")
    expect(status).to_contain_text("could not start on this device", timeout=180_000)
    expect(status.get_by_role("button", name="Try again")).to_be_visible()
    ask(page, QUESTION)
    expect(page.locator(".pm-turn .pm-sources a").first).to_be_visible()


def test_injected_html_is_shown_never_run(context, site, static_server, artifacts):
    """A document section, a question and model output that carry <script> and onerror=."""
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'gpu', {get: () => undefined})"
    )
    page = context.new_page()
    base = static_server(site)
    page.goto(base)
    open_panel(page)
    question = (
        'injected heading <img src=x onerror="window.pwned=4"><script>window.pwned=5</script>'
    )
    ask(page, question)
    turn = page.locator(".pm-turn").last
    expect(turn.locator(".pm-question")).to_have_text(question)
    link = turn.locator(".pm-sources a", has_text="onerror")
    expect(link).to_contain_text('<img src=x onerror="window.pwned=1">')
    # Model output through the same renderer: Markdown works, HTML stays text, links leave
    # the site only as words, citations point into the site.
    rendered = page.evaluate(
        """async (base) => {
          const { renderText } = await import(base + "_pagemind/runtime/render_text.js");
          const box = document.createElement("div");
          document.body.append(box);
          box.append(renderText(
            "Run `pagemind build` [1].\\n\\n- <script>window.pwned=6</script>\\n" +
            "- <img src=x onerror=\\"window.pwned=7\\">\\n\\n" +
            "[home](../) [evil](javascript:window.pwned=8) [away](https://example.com/)\\n\\n" +
            "```\\n<b>code</b>\\n```",
            {siteRoot: base, sources: [{url: "guides/deploying/#gh-deploy", heading: "gh"}]}));
          await new Promise((resolve) => setTimeout(resolve, 300));
          return {
            html: box.innerHTML,
            text: box.textContent,
            links: [...box.querySelectorAll("a")].map((a) => a.href),
            elements: [...box.querySelectorAll("*")].map((node) => node.tagName.toLowerCase()),
          };
        }""",
        base,
    )
    assert set(rendered["elements"]) <= {"p", "ul", "li", "code", "a", "pre"}
    assert "<script>window.pwned=6</script>" in rendered["text"]
    assert "<b>code</b>" in rendered["text"]
    assert rendered["links"] == [base + "guides/deploying/#gh-deploy", base]
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=artifacts / "assistant-injection.png")
    assert context.console_errors == []
