"""`pagemind serve`: a real preview server, real file edits, real Chromium reloading."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from pagemind.commands.serve import parse_address
from pagemind.errors import PagemindError
from pagemind.preview import Preview

RELOAD_TIMEOUT_MS = 15_000
CONFIG = """\
site_name = "Preview test"
site_url = "https://example.github.io/repo/"

[theme]
favicon = "favicon.svg"

[assistant]
enabled = false
"""
FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect/></svg>'
GUIDE = "# Guide\n\nThe first version of the guide.\n\n" + "".join(
    f"Paragraph {number} keeps the page long enough to scroll.\n\n" for number in range(150)
)
# Each breakage names the file the error banner must show.
BREAKAGES = {
    "bad TOML": ("pagemind.toml", b'site_name = "unterminated\n'),
    "bad front matter": ("docs/guide.md", b"---\ntitle: [unclosed\n---\n# Guide\n"),
    "non-UTF-8 bytes": ("docs/guide.md", b"# Guide\n\nCaf\xe9 in Latin-1.\n"),
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site-src"
    (root / "docs").mkdir(parents=True)
    (root / "pagemind.toml").write_text(CONFIG)
    (root / "docs" / "index.md").write_text("# Home\n\nWelcome home.\n")
    (root / "docs" / "guide.md").write_text(GUIDE)
    (root / "docs" / "favicon.svg").write_text(FAVICON)
    return root


@contextlib.contextmanager
def running_preview(site: Path) -> Iterator[Preview]:
    preview = Preview(site, port=0)
    preview.start()
    try:
        yield preview
    finally:
        preview.close()


@pytest.fixture
def preview(site: Path) -> Iterator[Preview]:
    with running_preview(site) as running:
        yield running


class Reply(NamedTuple):
    status: int
    content_type: str | None
    location: str | None
    body: bytes


def fetch(url: str) -> Reply:
    """One GET, redirects not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    headers = response.getheader
    return Reply(response.status, headers("Content-Type"), headers("Location"), body)


def save_in_place(path: Path, text: str) -> None:
    path.write_text(text)


def save_by_renaming(path: Path, text: str) -> None:
    """How many editors save: write a new file beside the old one, then rename it over."""
    scratch = path.with_name(path.name + ".saving")
    scratch.write_text(text)
    os.replace(scratch, path)


@pytest.mark.browser
@pytest.mark.parametrize("save", [save_in_place, save_by_renaming])
def test_an_edit_reloads_the_open_page_at_the_same_scroll_position(
    preview: Preview, site: Path, page, save: Callable[[Path, str], None]
) -> None:
    page.goto(preview.url + "guide/")
    page.get_by_text("The first version of the guide.").wait_for()
    page.evaluate("scrollTo(0, 1500)")

    guide = site / "docs" / "guide.md"
    save(guide, guide.read_text().replace("The first version", "The edited version"))

    page.get_by_text("The edited version of the guide.").wait_for(timeout=RELOAD_TIMEOUT_MS)
    page.wait_for_function("Math.abs(scrollY - 1500) < 2", timeout=RELOAD_TIMEOUT_MS)
    assert page.console_errors == []


@pytest.mark.browser
def test_a_hidden_page_catches_up_when_shown_again(preview: Preview, site: Path, page) -> None:
    """Hidden pages close their event stream; shown again, they reload if they missed a build."""
    page.goto(preview.url + "guide/")
    set_hidden = "hidden => { Object.defineProperty(document, 'hidden', {value: hidden, "
    set_hidden += "configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"
    page.evaluate(set_hidden, True)
    guide = site / "docs" / "guide.md"
    guide.write_text(GUIDE.replace("The first version", "The hidden version"))
    wait_for_build(preview)
    assert page.get_by_text("The first version of the guide.").count() == 1

    page.evaluate(set_hidden, False)
    page.get_by_text("The hidden version of the guide.").wait_for(timeout=RELOAD_TIMEOUT_MS)
    assert page.console_errors == []


@pytest.mark.browser
@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_a_broken_edit_shows_the_error_until_it_is_fixed(
    preview: Preview, site: Path, page, artifacts: Path, breakage: str
) -> None:
    relative, broken = BREAKAGES[breakage]
    source = site / relative
    good = source.read_bytes()
    page.goto(preview.url + "guide/")
    banner = page.locator("pagemind-build-error")

    source.write_bytes(broken)
    banner.get_by_text(relative).wait_for(timeout=RELOAD_TIMEOUT_MS)
    last_good = fetch(preview.url + "guide/")
    assert last_good.status == 200
    assert b"The first version of the guide." in last_good.body
    page.screenshot(path=artifacts / f"serve-error-{breakage.replace(' ', '-')}.png")

    source.write_bytes(good)
    (site / "docs" / "guide.md").write_text(GUIDE.replace("first version", "fixed version"))
    page.get_by_text("The fixed version of the guide.").wait_for(timeout=RELOAD_TIMEOUT_MS)
    assert banner.count() == 0
    assert page.console_errors == []


def test_the_site_is_served_under_its_base_path_with_web_content_types(site: Path) -> None:
    for name, data in {"shader.wgsl": b"fn f() {}", "model.gguf": b"GGUF", "app.js": b"1;"}.items():
        (site / "docs" / name).write_bytes(data)
    with running_preview(site) as preview:
        origin = preview.url.removesuffix("/repo/")
        assert preview.url.endswith("/repo/")
        assert fetch(origin + "/")[:3] == (302, None, "/repo/")
        assert fetch(origin + "/repo")[:3] == (302, None, "/repo/")
        assert fetch(origin + "/repo/guide")[:3] == (302, None, "/repo/guide/")
        assert fetch(origin + "/guide/").status == 404

        page = fetch(origin + "/repo/guide/")
        assert page[:2] == (200, "text/html; charset=utf-8")
        assert b"The first version of the guide." in page.body
        assert b'src="/__pagemind__/livereload.js"' in page.body
        assert fetch(origin + "/repo/shader.wgsl")[:2] == (200, "text/plain; charset=utf-8")
        assert fetch(origin + "/repo/model.gguf")[:2] == (200, "application/octet-stream")
        assert fetch(origin + "/repo/app.js")[:2] == (200, "text/javascript; charset=utf-8")
        # Offline caching would answer reloads with stale pages: the preview has none.
        assert b"unregister()" in fetch(origin + "/repo/sw.js").body
    assert not preview.output_dir.exists()


def test_a_site_broken_at_startup_is_served_once_fixed(site: Path) -> None:
    """Without a browser: what the event stream tells open pages, message by message."""
    guide = site / "docs" / "guide.md"
    guide.write_bytes(BREAKAGES["bad front matter"][1])
    with running_preview(site) as preview:
        assert fetch(preview.url + "guide/").status == 404
        parts = urlsplit(preview.url)
        stream = http.client.HTTPConnection(parts.netloc, timeout=RELOAD_TIMEOUT_MS / 1000)
        stream.request("GET", "/__pagemind__/events")
        events = stream.getresponse()
        assert events.getheader("Content-Type") == "text/event-stream"
        broken = next_state(events)
        assert broken["error"]["file"] == "docs/guide.md"

        guide.write_text(GUIDE)
        fixed = next_state(events)
        assert fixed["error"] is None and fixed["build"] != broken["build"]
        assert b"The first version of the guide." in fetch(preview.url + "guide/").body
        stream.close()


def wait_for_build(preview: Preview) -> None:
    """Blocks until the preview has finished one more build."""
    before = preview.live.state
    assert preview.live.wait_for_change(before, RELOAD_TIMEOUT_MS / 1000) != before


def next_state(events: http.client.HTTPResponse) -> dict:
    """The next `state` message of a server-sent event stream (keepalive comments skipped)."""
    while True:
        line = events.readline().decode()
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))


def test_a_port_in_use_is_refused_with_the_fix(site: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PagemindError) as error:
            Preview(site, port=port)
    assert f"port {port}" in error.value.message
    assert f"--dev-addr 127.0.0.1:{port + 1}" in str(error.value.fix)


def test_a_bad_dev_addr_says_how_to_write_it() -> None:
    assert parse_address("127.0.0.1:8001") == ("127.0.0.1", 8001)
    with pytest.raises(PagemindError, match="not HOST:PORT") as error:
        parse_address("8000")
    assert error.value.key == "--dev-addr"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_the_command_stops_cleanly(site: Path, tmp_path: Path, stop: signal.Signals) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = [sys.executable, "-m", "pagemind", "serve", str(site), "--dev-addr", "127.0.0.1:0"]
    environment = {**os.environ, "TMPDIR": str(scratch)}
    # As from a terminal: a runner started in the background would pass on an ignored SIGINT.
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = []
        while not (match := re.search(r"serving (http://\S+)", "".join(lines))):
            line = process.stderr.readline()
            assert line, "".join(lines)
            lines.append(line)
        with urllib.request.urlopen(match.group(1) + "guide/", timeout=10) as response:
            assert b"The first version of the guide." in response.read()
        process.send_signal(stop)
        _, rest = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "Traceback" not in rest
    assert list(scratch.iterdir()) == [], "the temporary build is removed"
