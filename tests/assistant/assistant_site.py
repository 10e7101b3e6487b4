"""A copy of example_site whose generator is a scripted test model (a real GGUF that writes
a text fixed in advance, and quickly on SwiftShader), with the real MiniLM embedder and a
section that tries to inject HTML into whatever shows it. Built with the real CLI.

The script answers QUESTION: sentences of the section the assistant finds for it (which
the docs support), then INVENTED (a command the docs never mention), then the rest of the
section's sentences, then all of them again, so the answer is long enough to stop halfway."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from pagemind import cli
from pagemind.assistant.attribution import Attributor
from pagemind.assistant.evidence import find_evidence
from pagemind.assistant.sentences import cut_units
from pagemind.config import load_config
from pagemind.models.tiny_model import scripted_llama_gguf, tiny_llama_gguf
from pagemind.search_index import SiteIndex
from paths import REPO

EXAMPLE_SITE = REPO / "example_site"
QUESTION = "How do I deploy to GitHub Pages?"
INVENTED = "Then run `pagemind deploy --force-push` to finish."
INJECTED_HEADING = "Injected &lt;img src=x onerror=&quot;window.pwned=1&quot;&gt; heading"
INJECTED_SECTION = f"""

## {INJECTED_HEADING} {{#injected}}

A hostile page says: &lt;script&gt;window.pwned = 2&lt;/script&gt; and
&lt;img src=x onerror="window.pwned=3"&gt; — readers must see these characters, never run them.
"""
# Few sections: the test model's vocabulary spells text byte by byte, so a section costs
# about a token per character. Greedy, so that every run writes the same.
SETTINGS = {"max_new_tokens": 600, "context_tokens": 400, "temperature": 0}


def build_assistant_site(root: Path) -> Path:
    """The built site folder (`root/site`)."""
    shutil.copytree(EXAMPLE_SITE / "docs", root / "docs")
    _reuse_embeddings(root)
    with (root / "docs" / "troubleshooting.md").open("a", encoding="utf-8") as page:
        page.write(INJECTED_SECTION)
    # The index does not depend on the generator: a random one stands in while the script
    # is read off the evidence.
    _write_config(root, tiny_llama_gguf(root / "tiny.gguf", vocab_size=400))
    scripted_llama_gguf(root / "scripted.gguf", planted_answer(root))
    _write_config(root, root / "scripted.gguf")
    assert cli.main(["build", str(root), "--no-check"]) == 0
    return root / "site"


def planted_answer(root: Path) -> str:
    """Two supported sentences, INVENTED, the rest of the answering section, then all of it
    again: what a model that mixes the docs with a made-up command, then loops, would write."""
    evidence = find_evidence(SiteIndex.build(load_config(root)), QUESTION)
    best, runner_up = evidence.sections[:2]
    # The browser's MiniLM (SwiftShader) agrees with numpy to a cosine of 0.999: a clear lead
    # means it finds the same section.
    assert best.score - runner_up.score > 0.02, (best.url, runner_up.url)
    sentences = [unit.text for unit in cut_units(best.text) if unit.kind == "sentence"]
    claims = Attributor([best.text], QUESTION).claims(" ".join(sentences))
    supported = [claim.unit.text for claim in claims if claim.supported]
    assert len(supported) >= 3, claims
    return " ".join([*supported[:2], INVENTED, *supported[2:], *supported])


def _write_config(root: Path, model: Path) -> None:
    config = (EXAMPLE_SITE / "pagemind.toml").read_text(encoding="utf-8")
    config = re.sub(r'(?m)^model = ".*"$', f'model = "{model.name}"', config)
    for key, value in SETTINGS.items():
        config = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", config)
    (root / "pagemind.toml").write_text(config, encoding="utf-8")


def _reuse_embeddings(root: Path) -> None:
    """Hard-link example_site's embedder package and embedding cache, when a build made
    them, so the copy embeds only its new section (both are keyed by content)."""
    cache = EXAMPLE_SITE / ".pagemind-cache"
    for part in ("models/embedder", "embeddings"):
        if (cache / part).is_dir():
            shutil.copytree(cache / part, root / ".pagemind-cache" / part, copy_function=os.link)
