"""`pagemind ask DIR "question"`: the assistant's answer from the terminal, with the same
retrieval and prompt as the panel in the browser."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
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
        description="Retrieve the sections that answer QUESTION, print the passage of the "
        "docs that answers it best, then generate the answer with the site's generator: "
        "through its compiled program on this machine's WebGPU adapter (wgpu), or the numpy "
        "reference with --cpu. Each sentence of the answer is cited to the section that "
        "supports it; sentences no section supports are held back. When no section is "
        "relevant, the answer says the docs do not cover it.",
    )
    parser.add_argument("dir", type=Path, help="the site folder")
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"passage": {"text", "url", "heading", "also": the runner-up section\'s '
        'quote with the same keys, or null}, "answer": the supported sentences with citations, '
        '"claims": [{"text", "source", "reason"}] (reason: why a sentence was held back, "" '
        'when shown), "sources": [hits as `pagemind search --json` prints]}',
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
    from pagemind.assistant.answer import Answerer
    from pagemind.assistant.evidence import find_evidence
    from pagemind.assistant.prompt import cut_question, retrieval_query
    from pagemind.search_index import SiteIndex

    if args.max_tokens is not None and args.max_tokens < 1:
        raise PagemindError("--max-tokens must be at least 1", key="--max-tokens")
    question = args.question.strip()
    if not question:
        raise PagemindError(
            "the question is empty", key="QUESTION", fix='ask e.g. "How do I deploy?"'
        )
    config = load_config(args.dir)
    if not config.assistant.enabled:
        raise PagemindError(
            "the assistant is off for this site",
            file=config.config_file,
            key="assistant.enabled",
            fix="set enabled = true in [assistant]",
        )
    answerer = Answerer(config, cpu=args.cpu, max_new_tokens=args.max_tokens)
    question = cut_question(question, answerer.window)
    evidence = find_evidence(SiteIndex.build(config), retrieval_query([], question))
    if args.json:
        answer = answerer.ask(question, evidence)
        print(json.dumps(_as_json(answer), ensure_ascii=False, indent=1))
        return 0
    answer = answerer.ask(question, evidence, _Printer())
    _print_ending(answer)
    return 0


def _as_json(answer) -> dict:
    return {
        "passage": answer.passage.to_json() if answer.passage else None,
        "answer": answer.text,
        "claims": [claim.to_json() for claim in answer.claims],
        "sources": [hit.to_json() for hit in answer.sources],
    }


QUOTE_LABELS = ("From the docs", "Also in the docs")  # as the panel heads them


class _Printer:
    """The passage first (before any generation), then each supported unit of the answer,
    cited, as soon as it is judged."""

    def __init__(self) -> None:
        self.started = False

    def passage(self, passage) -> None:
        for label, quote in zip(QUOTE_LABELS, passage.quotes, strict=False):
            print(f"{label} ({quote.breadcrumb}, {quote.url}):\n")
            print(textwrap.indent(quote.text, "  "), end="\n\n", flush=True)

    def claim(self, claim) -> None:
        from pagemind.assistant.attribution import cited_text

        if not claim.supported:
            return
        sys.stdout.write(("\n\n" if self.started else "") + cited_text([claim]))
        sys.stdout.flush()
        self.started = True


def _print_ending(answer) -> None:
    if not answer.covered:
        print(answer.text)
        return
    held = [claim for claim in answer.claims if not claim.supported]
    if answer.text:
        print()
    elif held:
        print("(No sentence of the answer was supported by the docs.)")
    elif not answer.cut_off:
        print("(The model wrote no answer of its own.)")
    if answer.cut_off:
        print("(The answer reached its length limit; its unfinished sentence is not shown.)")
    print()
    if held:
        print(f"Held back, not found in the docs ({len(held)}):")
        for claim in held:
            print(f"  - {textwrap.shorten(claim.unit.text, 100)} ({claim.reason})")
        print()
    for number, hit in enumerate(answer.sources, 1):
        print(f"[{number}] {hit.breadcrumb or hit.heading}  {hit.url}")
