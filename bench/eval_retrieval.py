"""Retrieval quality on a real site nobody here wrote: MkDocs' own docs and 24 reader
questions, each naming the page and the section that answers it.

Prints hit@1, hit@3 and hit@5 for keyword-only, vector-only and hybrid ranking, at section
level (a hit is the answering section, or a subsection of it: its heading or one in its
breadcrumb) and at page level, and how the relevance test judges the questions and a few
questions the docs cannot answer.

    .venv/bin/python bench/eval_retrieval.py [--chunk-tokens N] [--work DIR]
        [--answers [--max-tokens N] [--answer-first N]]

With --answers it also generates each question's answer as `pagemind ask --cpu` does (the
numpy reference, the site's default assistant settings) and prints the share of answers that
contain every `must_contain` string of the question (case-insensitive). That is slow: about
a minute per question on a laptop CPU.

The corpus is copied into --work (it is read-only), where the embedding cache stays
between runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

from pagemind.config import SiteConfig, load_config
from pagemind.search_index import Hit, SiteIndex, is_relevant
from pagemind.search_index.chunks import BREADCRUMB_SEPARATOR
from pagemind.search_index.ranking import MIN_COSINE

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
SITE = CORPORA / "mkdocs-docs"
QUESTIONS = CORPORA / "mkdocs_qa.jsonl"
MODES = ("keyword", "vector", "hybrid")
CUTOFFS = (1, 3, 5)
# Questions about things MkDocs' docs do not cover, for the relevance test.
OFF_TOPIC = [
    "How do I bake sourdough bread at home?",
    "What is the capital of Australia?",
    "How many calories are in a banana?",
    "Who won the football world cup in 1998?",
    "How do I change the oil in a diesel car engine?",
]


def retrieve(index: SiteIndex, question: str, mode: str = "hybrid", k: int = 5) -> list[Hit]:
    """The sections retrieved for one question (what an answer would be grounded on)."""
    return index.search(question, k=k, mode=mode)


def answers(hit: Hit, item: dict, level: str) -> bool:
    """Whether the hit is the answering page (level "page") or section ("section")."""
    if hit.page != item["file"]:
        return False
    if level == "page":
        return True
    wanted = item["heading"].strip().lower()
    trail = [part.strip().lower() for part in hit.breadcrumb.split(BREADCRUMB_SEPARATOR)]
    return hit.heading.strip().lower() == wanted or wanted in trail


def evaluate(index: SiteIndex, items: list[dict]) -> dict[tuple[str, str], list[float]]:
    """(mode, level) -> hit rate at each cutoff."""
    rates = {}
    for mode in MODES:
        ranked = [retrieve(index, item["question"], mode, max(CUTOFFS)) for item in items]
        for level in ("section", "page"):
            rates[mode, level] = [hit_rate(ranked, items, level, k) for k in CUTOFFS]
    return rates


def hit_rate(ranked: list[list[Hit]], items: list[dict], level: str, k: int) -> float:
    """Share of questions with an answering hit among their first k."""
    found = [
        any(answers(hit, item, level) for hit in hits[:k])
        for hits, item in zip(ranked, items, strict=True)
    ]
    return sum(found) / len(items)


def answer_rate(config: SiteConfig, index: SiteIndex, items: list[dict], max_tokens: int) -> float:
    """Share of generated answers holding every must_contain string of their question."""
    from pagemind.assistant.answer import Answerer, prompt_hit

    answerer = Answerer(config, cpu=True, max_new_tokens=max_tokens)
    holding = 0
    for item in items:
        hits = retrieve(index, item["question"], k=config.assistant.top_k)
        prompt_hits = [prompt_hit(hit) for hit in hits]
        answer = answerer.ask(item["question"], prompt_hits, is_relevant(hits), lambda _: None)
        found = all(text.lower() in answer.text.lower() for text in item["must_contain"])
        holding += found
        print(f"{item['id']}: {'ok  ' if found else 'miss'} {answer.text[:100]!r}", flush=True)
    return holding / len(items)


def site_config(work: Path, chunk_tokens: int | None) -> SiteConfig:
    copy = work / SITE.name
    for source in SITE.rglob("*"):  # files only: the corpus's folders are read-only
        if source.is_file():
            target = copy / source.relative_to(SITE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    config = load_config(copy)
    if chunk_tokens:
        config = dataclasses.replace(
            config, search=dataclasses.replace(config.search, chunk_tokens=chunk_tokens)
        )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-tokens", type=int, help="override [search] chunk_tokens")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "pagemind-eval-retrieval"
    )
    parser.add_argument("--answers", action="store_true", help="also generate the answers")
    parser.add_argument("--max-tokens", type=int, default=96, help="per answer, with --answers")
    parser.add_argument("--answer-first", type=int, metavar="N", help="answer only N questions")
    args = parser.parse_args()
    items = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    config = site_config(args.work, args.chunk_tokens)
    started = time.perf_counter()
    index = SiteIndex.build(config)
    print(
        f"{len(index.chunks)} chunks of at most {config.search.chunk_tokens} tokens, "
        f"indexed in {time.perf_counter() - started:.1f} s; {len(items)} questions"
    )
    rates = evaluate(index, items)
    print(f"\n| ranking | level   | {' | '.join(f'hit@{k}' for k in CUTOFFS)} |")
    print(f"|---------|---------|{'|'.join('-------' for _ in CUTOFFS)}|")
    for (mode, level), values in rates.items():
        print(f"| {mode:7} | {level:7} | {' | '.join(f'{v:5.2f}' for v in values)} |")
    answerable = [retrieve(index, item["question"]) for item in items]
    off_topic = [retrieve(index, question) for question in OFF_TOPIC]
    covered = sum(is_relevant(hits) for hits in answerable)
    refused = sum(not is_relevant(hits) for hits in off_topic)
    print(
        f"\nrelevance test: {covered}/{len(items)} answerable questions judged covered, "
        f"{refused}/{len(OFF_TOPIC)} off-topic questions judged not covered"
    )
    if args.answers:
        answered = items[: args.answer_first]
        rate = answer_rate(config, index, answered, args.max_tokens)
        print(
            f"\ngenerated answers holding their must_contain strings: {rate:.2f} "
            f"({len(answered)} questions)"
        )
    if index.has_vectors:
        best = [[max(hit.cosine for hit in hits) for hits in group]
                for group in (answerable, off_topic)]  # fmt: skip
        median = sorted(best[0])[len(best[0]) // 2]
        print(
            f"best cosine: answerable min {min(best[0]):.2f} median {median:.2f}, "
            f"off-topic max {max(best[1]):.2f} (threshold {MIN_COSINE})"
        )


if __name__ == "__main__":
    main()
