"""`pagemind ask DIR "question"`: the assistant's answer from the terminal, with the same
retrieval and prompt as the panel in the browser."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pagemind.config import load_config
from pagemind.errors import PagemindError


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "ask",
        parents=parents,
        help="answer a question from the docs, as the on-page assistant does",
        description="Retrieve the sections that answer QUESTION, build the assistant's "
        "prompt and generate the answer with the site's generator: through its compiled "
        "program on this machine's WebGPU adapter (wgpu), or the numpy reference with --cpu. "
        "When no section is relevant, the answer says the docs do not cover it.",
    )
    parser.add_argument("dir", type=Path, help="the site folder")
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"answer": ..., "sources": [hits as `pagemind search --json` prints]}',
    )
    parser.add_argument(
        "--cpu", action="store_true", help="generate with the numpy reference instead of wgpu"
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="generate at most N tokens (default: assistant.max_new_tokens)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for numpy, tokenizers and wgpu.
    from pagemind.assistant.answer import Answerer, prompt_hit
    from pagemind.assistant.prompt import retrieval_query
    from pagemind.search_index import SiteIndex, is_relevant

    if args.max_tokens is not None and args.max_tokens < 1:
        raise PagemindError("--max-tokens must be at least 1", key="--max-tokens")
    question = args.question.strip()
    if not question:
        raise PagemindError("the question is empty", fix='ask e.g. "How do I deploy?"')
    config = load_config(args.dir)
    if not config.assistant.enabled:
        raise PagemindError(
            "the assistant is off for this site",
            file=config.config_file,
            key="assistant.enabled",
            fix="set enabled = true in [assistant]",
        )
    index = SiteIndex.build(config)
    hits = index.search(retrieval_query([], question), k=config.assistant.top_k)
    answerer = Answerer(config, cpu=args.cpu, max_new_tokens=args.max_tokens)
    stream = (lambda text: None) if args.json else _print_part
    answer = answerer.ask(question, [prompt_hit(hit) for hit in hits], is_relevant(hits), stream)
    if args.json:
        sources = [hit.to_json() for hit in hits[: len(answer.sources)]]
        print(json.dumps({"answer": answer.text, "sources": sources}, ensure_ascii=False, indent=1))
        return 0
    print()
    for number, hit in enumerate(answer.sources, 1):
        print(f"[{number}] {hit['breadcrumb'] or hit['heading']}  {hit['url']}")
    return 0


def _print_part(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
