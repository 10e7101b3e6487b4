"""The output fits GitHub Pages and CDNs: no file over 32 MiB, `.nojekyll`, no server header
needed, and every URL of every page and file resolves under a sub-path (/repo/)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest
from offline_site import service_worker_build
from pagemind.config import load_config
from pagemind.errors import PagemindError
from pagemind.service_worker import OFFLINE_MODES

MAX_FILE_BYTES = 32 * 1024 * 1024  # GitHub Pages refuses files over 100 MB; CDNs less


def test_every_build_output_fits_a_static_host(example_source: Path):
    output = example_source / "site"
    assert (output / ".nojekyll").is_file()
    assert (output / "sw.js").is_file()
    sizes = {path: path.stat().st_size for path in output.rglob("*") if path.is_file()}
    assert max(sizes.values()) <= MAX_FILE_BYTES, max(sizes, key=sizes.get)
    assert any(path.suffix == ".bin" for path in sizes)  # the models are part of it


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("href", "src"):
            if values.get(key):
                self.urls.append(values[key])
        if tag == "meta" and values.get("name") == "pagemind":
            self.urls.append(values["content"])


def _references(url: str, kind: str, body: bytes) -> list[str]:
    """The URLs a file names, as the browser would resolve them."""
    if "html" in kind:
        parser = _Links()
        parser.feed(body.decode("utf-8"))
        found = parser.urls
    elif url.endswith(".css"):
        found = re.findall(r"url\(['\"]?([^'\")]+)", body.decode("utf-8"))
    elif url.endswith(".js") and not url.endswith("/sw.js"):
        found = re.findall(r"""(?:from|import\()\s*["'](\.[^"']+)["']""", body.decode("utf-8"))
    elif url.endswith("/sw.js"):
        build = json.loads(re.search(rb"^const BUILD = (\{.*\});$", body, re.MULTILINE)[1])
        found = [path for path, _ in build["precache"]] + build["models"]
    elif url.endswith(".json") and "/program." not in url:
        # Programs name their kernels by file name inside _pagemind/shaders/, which the
        # precache list of sw.js reaches.
        found = _json_references(json.loads(body))
    else:
        found = []
    return [urldefrag(urljoin(url, ref))[0] for ref in found if not ref.startswith("data:")]


def _json_references(value: object) -> list[str]:
    """File names inside the site's JSON files (entry, assistant settings, manifests)."""
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _json_references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _json_references(item)]
    if isinstance(value, str) and re.fullmatch(r"[\w./-]+\.(json|bin|wgsl|js)", value):
        return [value]
    return []


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.headers["Content-Type"] or "", response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


def test_a_crawl_of_the_sub_path_build_finds_no_broken_url(example_source: Path, host):
    served = host(example_source / "site")
    origin = served.url.removesuffix(served.prefix)
    # 404.html is requested at any depth: its links must work from there too.
    pending = [served.url, served.url + "sw.js", served.url + "no/such/page/"]
    seen: dict[str, int] = {}
    broken = []
    while pending:
        url = pending.pop()
        if url in seen or not url.startswith(origin):
            continue  # external links are not the site's to keep
        status, kind, body = _get(url)
        seen[url] = status
        if status != 200 and not url.endswith("/no/such/page/"):
            broken.append(url)
            continue
        if not url.endswith(".bin"):
            pending += _references(url, kind, body)
    assert broken == []
    assert all(url.startswith(served.url) for url in seen)  # nothing escapes /repo/
    assert len([url for url in seen if url.endswith("/")]) >= 10  # every page was reached
    assert any(url.endswith(".bin") for url in seen)
    precache = service_worker_build(example_source / "site")["precache"]
    assert {served.url + path.removeprefix("./") for path, _ in precache} <= set(seen)


def test_the_offline_setting_is_checked_and_names_its_key(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "pagemind.toml").write_text('site_name = "x"\noffline = "everything"\n')
    with pytest.raises(PagemindError) as raised:
        load_config(tmp_path)
    message = str(raised.value)
    assert "offline" in message and "pagemind.toml:2" in message
    assert all(mode in message for mode in OFFLINE_MODES)
