"""Wall time of one `pagemind search DIR QUERY` process, next to the start of bare Python
and of `import numpy` measured in the same run (the floor of any command that ranks with
numpy).

    cached    the site is unchanged since the last query: the index comes from
              .pagemind-cache/index/, the query is embedded with the memory-mapped embedder
    re-index  that saved index removed first (as after an edit): every page is parsed and
              chunked again, the embeddings come from the embedding cache

The first run fills the caches (embedding a site not embedded before takes minutes on a
CPU); the figures are the best of --repeats runs, with the OS file cache warm.

    .venv/bin/python bench/search_start.py [--site tests/corpora/mkdocs-docs] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pagemind.config import CACHE_FOLDER
from pagemind.search_index.index_cache import INDEX_CACHE

REPO = Path(__file__).resolve().parents[1]
PAGEMIND = Path(sys.executable).parent / "pagemind"


def seconds(command: list[str], before=lambda: None) -> float:
    before()
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def best(command: list[str], repeats: int, before=lambda: None) -> float:
    return min(seconds(command, before) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=REPO / "tests" / "corpora" / "mkdocs-docs")
    parser.add_argument("--query", default="how do I add a theme")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    search = [str(PAGEMIND), "search", str(args.site), args.query]

    print(f"first query (fills the caches): {seconds(search):.2f} s")
    index_cache = args.site / CACHE_FOLDER / INDEX_CACHE
    figures = {
        "python -c pass": best([sys.executable, "-c", "pass"], args.repeats),
        "python -c 'import numpy'": best([sys.executable, "-c", "import numpy"], args.repeats),
        "pagemind search, cached": best(search, args.repeats),
        "pagemind search, re-index": best(
            search, args.repeats, lambda: shutil.rmtree(index_cache, ignore_errors=True)
        ),
    }
    seconds(search)  # leaves the cache as it found it
    cached = figures["pagemind search, cached"]
    print(f"{args.site}, {args.query!r}, best of {args.repeats}:")
    for name, value in figures.items():
        print(f"  {name:<28} {value:6.3f} s   {value / cached:5.2f}x cached search")


if __name__ == "__main__":
    main()
