"""`pagemind build` bundles the assistant: packages with their programs, shaders and
assistant.<hash>.json, named by the site entry every page points to; a rebuild rewrites
nothing and reuses the checks; `pagemind serve` bundles once at start."""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from check_helpers import run_cli
from pagemind import bundle as bundle_module
from pagemind.models.package import SHARD_BYTES
from pagemind.preview import Preview
from pagemind.resources import resource_dir
from site_helpers import tiny_assistant_site

pytestmark = pytest.mark.gpu


def site_entry(output: Path) -> dict:
    """The entry file the home page's pagemind meta tag points to."""
    page = (output / "index.html").read_text()
    [url] = re.findall(r'<meta name="pagemind" content="([^"]+)">', page)
    return json.loads((output / url).read_text())


def assistant_file(output: Path) -> Path:
    """The assistant settings the site entry names."""
    return output / "_pagemind" / site_entry(output)["assistant"]


def shard_times(output: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in output.glob("_pagemind/models/*/*.bin")}


def test_build_bundles_checks_once_and_rewrites_no_shard(site: Path, capsys):
    output = site / "site"
    assert run_cli("build", site) == 0
    first = capsys.readouterr().err
    assert "ok  generator: " in first and "ok  embedder: " in first

    settings = json.loads(assistant_file(output).read_text())
    assert settings["settings"]["max_new_tokens"] == 64
    bundle = assistant_file(output).parent
    for role in ("generator", "embedder"):
        entry = settings["models"][role]
        manifest = json.loads((bundle / entry["manifest"]).read_text())
        for shard in manifest["shards"]:
            content = (bundle / "models" / role / shard["file"]).read_bytes()
            assert len(content) == shard["bytes"] <= SHARD_BYTES
            assert hashlib.sha256(content).hexdigest() == shard["sha256"]
        program = json.loads((bundle / entry["program"]).read_text())
        tensors = {b["tensor"] for b in program["buffers"].values() if "tensor" in b}
        assert tensors <= set(manifest["tensors"])
    embedder = json.loads((bundle / settings["models"]["embedder"]["manifest"]).read_text())
    matrices = {t["format"] for t in embedder["tensors"].values() if len(t["shape"]) == 2}
    assert matrices == {"Q8_0"}  # [assistant] embedder_format's default
    for folder, pattern in (("runtime", "*.js"), ("shaders", "*.wgsl")):  # runtime: always
        shipped = {p.name for p in resource_dir(folder).glob(pattern)}
        assert {p.name for p in (bundle / folder).iterdir()} == shipped
    # Copies: editing pagemind's own shaders later must not change this built site.
    assert not any(p.samefile(resource_dir("shaders") / p.name) for p in bundle.glob("shaders/*"))

    times = shard_times(output)
    assert run_cli("build", site) == 0
    second = capsys.readouterr().err
    assert "checks skipped" in second and "Packaging" not in second
    assert shard_times(output) == times


def test_no_check_skips_the_checks_but_not_the_bundle(site: Path, capsys):
    assert run_cli("build", site, "--no-check") == 0
    assert "adapter:" not in capsys.readouterr().err
    assert assistant_file(site / "site").is_file()


def test_a_changed_setting_gives_a_new_assistant_file_and_removes_the_old(site: Path):
    assert run_cli("build", site, "--no-check") == 0
    before = assistant_file(site / "site")
    config = site / "pagemind.toml"
    config.write_text(config.read_text().replace("max_new_tokens = 64", "max_new_tokens = 32"))
    assert run_cli("build", site, "--no-check") == 0
    after = assistant_file(site / "site")
    assert after != before and not before.exists()
    assert json.loads(after.read_text())["settings"]["max_new_tokens"] == 32


def test_turning_the_assistant_off_removes_its_bundle(site: Path):
    assert run_cli("build", site, "--no-check") == 0
    config = site / "pagemind.toml"
    config.write_text(config.read_text() + "enabled = false\n")
    assert run_cli("build", site, "--no-check") == 0
    home = (site / "site" / "index.html").read_text()
    assert site_entry(site / "site")["assistant"] is None and 'id="pagemind-assistant"' not in home
    bundle = site / "site" / "_pagemind"
    assert not list(bundle.glob("assistant.*.json"))
    assert not any((bundle / part).exists() for part in ("models", "shaders"))
    # The page builder's files stay: the theme, and the runtime the search box runs on.
    assert list((bundle / "theme").glob("style.*.css")) and (bundle / "runtime/page.js").is_file()


def test_serve_bundles_the_assistant_once_at_start(site: Path):
    preview = Preview(site, port=0)
    try:
        preview.start()
        assert assistant_file(preview.output_dir).is_file()
    finally:
        preview.close()


def bundle_files(output: Path) -> dict[str, bytes]:
    bundle = output / "_pagemind"
    return {
        path.relative_to(bundle).as_posix(): path.read_bytes()
        for path in [assistant_file(output), *bundle.glob("models/**/*")]
        if path.is_file()
    }


def test_a_generator_packaged_in_its_own_process_gives_the_same_bundle(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """A cold --no-check build packages a large generator in a spawned process while the pages
    are indexed; the bundle is byte for byte the one packaged in the build's own process."""
    assert run_cli("build", site, "--no-check") == 0
    in_process = bundle_files(site / "site")
    monkeypatch.setattr(bundle_module, "SEPARATE_PROCESS_BYTES", 0)
    spawned = []
    monkeypatch.setattr(bundle_module, "ProcessPoolExecutor", counted(ProcessPoolExecutor, spawned))
    other = tiny_assistant_site(tmp_path / "other")
    capsys.readouterr()
    assert run_cli("build", other, "--no-check", "-v") == 0
    assert len(spawned) == 1
    assert capsys.readouterr().err.count("Packaging the generator") == 1
    assert bundle_files(other / "site") == in_process


def test_a_damaged_generator_packaged_in_its_own_process_is_named_with_its_fix(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setattr(bundle_module, "SEPARATE_PROCESS_BYTES", 0)
    model = site / "tiny.gguf"
    model.write_bytes(model.read_bytes()[:-1000])
    assert run_cli("build", site, "--no-check") != 0
    error = capsys.readouterr().err
    assert str(model) in error and "fix: " in error
    assert not (site / "site").exists()


def counted(cls: type, calls: list) -> type:
    """cls, recording each instance made."""

    class Counted(cls):
        def __init__(self, *args, **kwargs) -> None:
            calls.append(args)
            super().__init__(*args, **kwargs)

    return Counted
