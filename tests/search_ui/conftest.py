"""pagemind's own docs, built once for the search box tests (without the GPU checks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import REPO
from search_ui_helpers import build


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(REPO / "example_site", tmp_path_factory.mktemp("example_site"))
