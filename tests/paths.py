"""Where the tests find the repository, the vendored corpora and the browser."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO / "tests" / "corpora"  # third-party docs the tests build (see its README)
ARTIFACTS = REPO / "tests" / "artifacts"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--use-webgpu-adapter=swiftshader",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

# The Markdown the tokenizer parity checks and benchmarks read: pagemind's docs and MkDocs'.
DOCS = [REPO / "example_site" / "docs", CORPORA / "mkdocs-docs" / "docs"]


def docs_paragraphs() -> list[str]:
    """Every blank-line-separated paragraph of the docs, code blocks and front matter included."""
    files = sorted(path for root in DOCS for path in root.rglob("*.md"))
    texts = [path.read_text(encoding="utf-8") for path in files]
    return [part for text in texts for part in re.split(r"\n\s*\n", text) if part.strip()]
