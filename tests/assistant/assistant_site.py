"""A copy of example_site whose generator is the tiny test model (a real GGUF, random
weights: it streams quickly on SwiftShader), with the real MiniLM embedder and a section
that tries to inject HTML into whatever shows it. Built with the real CLI."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from pagemind import cli
from pagemind.models.tiny_model import tiny_llama_gguf
from paths import REPO

EXAMPLE_SITE = REPO / "example_site"
INJECTED_HEADING = "Injected &lt;img src=x onerror=&quot;window.pwned=1&quot;&gt; heading"
INJECTED_SECTION = f"""

## {INJECTED_HEADING} {{#injected}}

A hostile page says: &lt;script&gt;window.pwned = 2&lt;/script&gt; and
&lt;img src=x onerror="window.pwned=3"&gt; — readers must see these characters, never run them.
"""
# Long answers (the stop test needs one), few sections (the tiny vocabulary spells text
# byte by byte, so a section costs about a token per character).
# Greedy, so that what the random model writes is the same on every run.
SETTINGS = {"max_new_tokens": 300, "context_tokens": 400, "temperature": 0}


def build_assistant_site(root: Path) -> Path:
    """The built site folder (`root/site`)."""
    shutil.copytree(EXAMPLE_SITE / "docs", root / "docs")
    _reuse_embeddings(root)
    tiny_llama_gguf(root / "tiny.gguf", vocab_size=400)
    config = (EXAMPLE_SITE / "pagemind.toml").read_text(encoding="utf-8")
    config = re.sub(r'(?m)^model = ".*"$', 'model = "tiny.gguf"', config)
    for key, value in SETTINGS.items():
        config = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", config)
    (root / "pagemind.toml").write_text(config, encoding="utf-8")
    with (root / "docs" / "troubleshooting.md").open("a", encoding="utf-8") as page:
        page.write(INJECTED_SECTION)
    assert cli.main(["build", str(root), "--no-check"]) == 0
    return root / "site"


def _reuse_embeddings(root: Path) -> None:
    """Hard-link example_site's embedder package and embedding cache, when a build made
    them, so the copy embeds only its new section (both are keyed by content)."""
    cache = EXAMPLE_SITE / ".pagemind-cache"
    for part in ("models/embedder", "embeddings"):
        if (cache / part).is_dir():
            shutil.copytree(cache / part, root / ".pagemind-cache" / part, copy_function=os.link)
