"""The GitHub Actions workflow `pagemind new` writes keeps the embeddings between CI builds:
its cache step, its key, and a second build of an unchanged site (in a fresh checkout with
only the restored cache, as on a new runner) that embeds nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pagemind.config import CACHE_FOLDER as SITE_CACHE
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.search_index.site_index import EMBEDDING_CACHE
from site_helpers import run_cli, tiny_assistant_site, write_site

EMBEDDINGS = Path(SITE_CACHE, EMBEDDING_CACHE)  # under the site root
PAGES = {
    "docs/install.md": "# Install\n\nRun `pip install demo` in a fresh virtual environment.\n",
    "docs/usage.md": "# Usage\n\n## Start\n\nCall `demo.start()` once the settings are read.\n",
}


@pytest.fixture(scope="module")
def build_steps(tmp_path_factory) -> list[dict]:
    site = tmp_path_factory.mktemp("new") / "mydocs"
    assert run_cli("new", site) == 0
    workflow = yaml.safe_load((site / ".github" / "workflows" / "pages.yml").read_text())
    return workflow["jobs"]["build"]["steps"]


def step_index(steps: list[dict], test) -> int:
    found = [number for number, step in enumerate(steps) if test(step)]
    assert len(found) == 1, steps
    return found[0]


def test_the_cache_step_restores_the_embeddings_before_the_build(build_steps) -> None:
    cache = step_index(build_steps, lambda step: step.get("uses") == "actions/cache@v4")
    build = step_index(build_steps, lambda step: step.get("run", "").startswith("pagemind build"))
    models = step_index(build_steps, lambda step: "--no-deps" in step.get("run", ""))
    assert models < cache < build  # the key reads the installed versions
    # The folder a build reads and writes the embeddings in, the same path in a checkout.
    assert build_steps[cache]["with"]["path"] == EMBEDDINGS.as_posix()


def test_the_key_names_the_models_and_the_sources(build_steps, tmp_path) -> None:
    cache = build_steps[step_index(build_steps, lambda s: s.get("uses") == "actions/cache@v4")]
    key_step = build_steps[step_index(build_steps, lambda s: s.get("id") == "cache-key")]
    assert cache["with"]["key"] == "${{ steps.cache-key.outputs.key }}"
    assert cache["with"]["restore-keys"] == "${{ steps.cache-key.outputs.prefix }}"
    sources = key_step["env"]["SOURCES"]
    assert "hashFiles('pagemind.toml', 'mkdocs.yml', 'docs/**')" in sources

    def outputs(sources_hash: str) -> dict[str, str]:
        """The step's script run as the runner runs it, with this environment's pip."""
        output = tmp_path / f"output-{sources_hash}"
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "SOURCES": sources_hash,
            "GITHUB_OUTPUT": str(output),
        }
        command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", key_step["run"]]
        subprocess.run(command, env=env, check=True, capture_output=True)
        return dict(line.split("=", 1) for line in output.read_text().splitlines())

    first, edited = outputs("aaaa"), outputs("bbbb")
    # The installed model packages make the prefix: another model never restores this cache.
    assert first["prefix"] == edited["prefix"] and first["prefix"].startswith("pagemind-")
    assert len(first["prefix"]) == len("pagemind-") + 16 + 1
    assert first["key"] == first["prefix"] + "aaaa" and edited["key"] == edited["prefix"] + "bbbb"
    for model in DEFAULT_MODELS.values():
        assert model.distribution in key_step["run"]


def test_a_second_ci_build_with_the_restored_cache_embeds_nothing(tmp_path, capsys) -> None:
    first = write_site(tiny_assistant_site(tmp_path / "run1"), PAGES)
    assert run_cli("build", first, "--no-check") == 0
    log = capsys.readouterr().err
    chunks = index_size(log)
    assert chunks == 3 and f"Embedding {chunks} new chunk(s)" in log, log

    # A new runner: a fresh checkout of the same sources, then actions/cache restores the path.
    second = tmp_path / "run2"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns(SITE_CACHE, "site"))
    shutil.copytree(first / EMBEDDINGS, second / EMBEDDINGS)
    restored = {path.name: path.read_bytes() for path in (second / EMBEDDINGS).iterdir()}
    assert run_cli("build", second, "--no-check") == 0
    log = capsys.readouterr().err
    assert "Embedding" not in log and "Embedded" not in log, log
    assert index_size(log) == chunks
    # The cache is left as restored (so actions/cache has nothing new to save) ...
    after = {path.name: path.read_bytes() for path in (second / EMBEDDINGS).iterdir()}
    assert after == restored
    # ... and the site's vectors are those of the first build.
    assert vector_files(second) == vector_files(first)


def index_size(log: str) -> int:
    """The chunk count of the build log's "Search index: N chunks" line."""
    (count,) = re.findall(r"^Search index: (\d+) chunks", log, re.MULTILINE)
    return int(count)


def vector_files(root: Path) -> dict[str, bytes]:
    """The index's vector groups and signs, by name."""
    index = root / "site" / "_pagemind" / "index"
    paths = [*index.glob("vectors/*.bin"), *index.glob("signs.*.bin")]
    assert paths
    return {path.relative_to(index).as_posix(): path.read_bytes() for path in paths}
