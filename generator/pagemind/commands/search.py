"""`pagemind search DIR QUERY`: the site's search, ranked as the browser ranks it."""

from __future__ import annotations

import argparse
import json
import logging
import textwrap
from pathlib import Path

from pagemind.config import load_config
from pagemind.errors import PagemindError

log = logging.getLogger("pagemind")

SNIPPET_CHARS = 100


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "search",
        parents=parents,
        help="search the site's sections as its search box does",
        description="Index the site in DIR (embeddings come from the site's cache, so only "
        "changed sections are embedded) and print the sections that best match QUERY: "
        "keyword and semantic ranking fused, or keyword-only when the assistant is off.",
    )
    parser.add_argument("dir", type=Path, help="the site folder (holding pagemind.toml)")
    parser.add_argument("query", help="what to search for, in quotes")
    parser.add_argument(
        "-k", type=int, default=5, metavar="N", help="how many sections to print (default: 5)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print a JSON list of {"url", "page", "heading", "score"}, best first',
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise PagemindError(f"-k must be 1 or more, got {args.k}", key="-k", fix="e.g. -k 5")
    if not args.query.strip():
        raise PagemindError(
            "the search query is empty", key="QUERY", fix='search for words, e.g. "deploy"'
        )
    from pagemind.search_index import SiteIndex, is_relevant  # numpy: only for this command

    index = SiteIndex.build(load_config(args.dir))
    hits = index.search(args.query, k=args.k)
    if args.json:
        print(json.dumps([hit.to_json() for hit in hits], ensure_ascii=False, indent=1))
        return 0
    if not is_relevant(hits):
        log.warning("No section is close to this query: the docs may not cover it.")
    for rank, hit in enumerate(hits, 1):
        print(f"{rank}. {hit.breadcrumb}  ({hit.score:.4f})")
        print(f"   {hit.url}  [{hit.page}]")
        print(f"   {textwrap.shorten(hit.text, SNIPPET_CHARS)}")
    return 0
