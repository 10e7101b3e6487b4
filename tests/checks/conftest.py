"""A site whose assistant uses a tiny random GGUF generator and the real MiniLM embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from site_helpers import tiny_assistant_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tiny_assistant_site(tmp_path / "site-src")
