"""Build speed next to MkDocs on a FastAPI-sized corpus (MkDocs' docs copied 16 times).

    .venv/bin/python bench/build_speed.py [--copies 16] [--runs 3]

Prints the best of `--runs` wall-clock times for: a full `pagemind` build in a fresh process,
an incremental rebuild after editing one page (in-process, as `pagemind serve` does it), and
`mkdocs build` of the same folder in a fresh process. MkDocs is installed into a scratch
virtual environment outside the repository on first use.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pagemind.builder import SiteBuilder
from pagemind.config import load_config

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpora" / "mkdocs-docs" / "docs"
MKDOCS_VENV = Path("/tmp/mkdocs-venv")
MKDOCS = MKDOCS_VENV / "bin" / "mkdocs"

# The same Markdown extensions pagemind uses, so both tools do the same work.
MKDOCS_YML = """\
site_name: Bench
exclude_docs: "*.py"
markdown_extensions:
  - toc: {permalink: true}
  - tables
  - admonition
  - footnotes
  - attr_list
  - def_list
  - md_in_html
  - pymdownx.details
  - pymdownx.inlinehilite
  - pymdownx.highlight: {use_pygments: true}
  - pymdownx.superfences
  - pymdownx.tasklist: {custom_checkbox: true}
  - pymdownx.tabbed: {alternate_style: true}
"""
PAGEMIND_TOML = 'site_name = "Bench"\nexclude = ["*.py"]\n\n[assistant]\nenabled = false\n'
FULL_BUILD = (
    "import sys; from pagemind.builder import SiteBuilder; from pagemind.config import "
    "load_config; SiteBuilder(load_config(sys.argv[1], output=sys.argv[2])).build()"
)


def make_corpus(root: Path, copies: int) -> int:
    """`copies` copies of the corpus, each page linking to its twin in the next copy."""
    docs = root / "docs"
    for index in range(copies):
        shutil.copytree(CORPUS, docs / f"part-{index:02d}")
    (docs / "index.md").write_text(
        "# Bench\n\n"
        + "".join(f"- [Part {index}](part-{index:02d}/index.md)\n" for index in range(copies))
    )
    pages = sorted(docs.glob("part-*/**/*.md"))
    for page in pages:
        part = page.relative_to(docs).parts[0]
        twin = f"part-{(int(part[5:]) + 1) % copies:02d}"
        depth = len(page.relative_to(docs).parts) - 1
        link = "../" * depth + twin + "/" + page.relative_to(docs / part).as_posix()
        page.write_text(page.read_text() + f"\n\nSee also [this page in {twin}]({link}).\n")
    (root / "mkdocs.yml").write_text(MKDOCS_YML)
    (root / "pagemind.toml").write_text(PAGEMIND_TOML)
    return len(pages) + 1


def ensure_mkdocs() -> None:
    if MKDOCS.exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(MKDOCS_VENV)], check=True)
    pip = [str(MKDOCS_VENV / "bin" / "pip"), "install", "-q", "mkdocs", "pymdown-extensions"]
    subprocess.run(pip, check=True)


def best_of(runs: int, action) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pagemind").setLevel(logging.ERROR)  # MkDocs' plugin-only links warn
    ensure_mkdocs()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        pages = make_corpus(root, args.copies)
        pagemind_out, mkdocs_out = root / "site-pagemind", root / "site-mkdocs"

        def pagemind_full() -> None:
            command = [sys.executable, "-c", FULL_BUILD, str(root), str(pagemind_out)]
            subprocess.run(command, check=True, capture_output=True)

        def mkdocs_full() -> None:
            command = [str(MKDOCS), "build", "-q", "-f", str(root / "mkdocs.yml"), "-d"]
            subprocess.run([*command, str(mkdocs_out)], check=True, capture_output=True)

        full = best_of(args.runs, pagemind_full)
        mkdocs = best_of(args.runs, mkdocs_full)
        builder = SiteBuilder(load_config(root, output=pagemind_out))
        builder.build()
        edited = root / "docs" / "part-03" / "user-guide" / "writing-your-docs.md"
        original = edited.read_text()

        def edit_and_rebuild() -> None:
            edited.write_text(original + f"\n\nEdited at {time.time()}.\n")
            assert builder.build({edited}).rendered == ["part-03/user-guide/writing-your-docs/"]

        incremental = best_of(args.runs, edit_and_rebuild)

        def retitle_and_rebuild() -> None:
            edited.write_text(f"# Writing, take {time.time()}\n\n{original}")
            assert len(builder.build({edited}).rendered) == pages

        retitled = best_of(args.runs, retitle_and_rebuild)

    print(f"corpus: {pages} pages ({args.copies} copies of MkDocs' docs), best of {args.runs}")
    print(f"pagemind full build      {full:7.2f} s")
    print(f"mkdocs build             {mkdocs:7.2f} s")
    print(f"pagemind incremental     {incremental:7.3f} s  (one page edited, body only)")
    print(f"pagemind incremental     {retitled:7.3f} s  (one title edited: every nav re-rendered)")
    print(f"full build: pagemind takes {full / mkdocs:.2f}x the time of mkdocs")
    print(f"incremental rebuild is {full / incremental:.0f}x faster than a full pagemind build")


if __name__ == "__main__":
    main()
