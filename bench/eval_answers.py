"""Answer quality on real sites nobody here wrote: MkDocs' and HTTPX's docs with 24 reader
questions each (../shared/corpora: outside the repository, skipped where absent), and
pagemind's own docs with 24 more (bench/questions/pagemind_qa.jsonl). Each question names
the page and section that answer it and strings a correct answer holds (`must_contain`).

Prints, per site:
- retrieval: section hit@1/3/5 (a hit is the answering section or one under it; sections
  counted once) for keyword, vector, hybrid (the search box's fused ranking) and the
  assistant's evidence ranking (hybrid, then sections ranked again by their best sentence);
- passage: share of the passages ("From the docs", with "Also in the docs" where shown)
  holding every must_contain string, and their mean length;
- abstention: share of bench/questions/off_topic.txt the relevance gate declines, and of
  the site's questions it answers;
- with --answers, the generated answers (as `pagemind ask --cpu` makes them, the site's
  assistant settings unless overridden): share holding every must_contain string (the text
  the reader is shown), groundedness (share of the shown content words found in the
  sources or the question), invented code spans (code in the shown answer found verbatim
  in no source: must be 0; and in the raw model output, before the check), key-fact
  citation precision (shown sentences holding a must_contain string whose cited source
  holds it), and the share of sentences held back (and of those, the repeats); under a
  missed answer, the sentences held back (not as repeats) that held a key fact, and why.

    .venv/bin/python bench/eval_answers.py [--site mkdocs|httpx|pagemind ...] [--answers]
        [--max-tokens N] [--first N] [--top-k N] [--context-tokens N] [--copy-bias X]
        [--copy-span-bias X] [--repetition-penalty X]
        [--embedder-format Q8_0|F16|F32] [--support-share X]

The corpora are copied into --work (they are read-only), where embedding caches stay
between runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pagemind.assistant import attribution
from pagemind.assistant.answer import Answer, Answerer
from pagemind.assistant.attribution import REPEATS, Claim
from pagemind.assistant.evidence import Evidence, find_evidence
from pagemind.assistant.passage import best_passage
from pagemind.assistant.sentences import cut_units
from pagemind.assistant.support import SourceText, code_spans, content_words
from pagemind.config import SiteConfig, load_config
from pagemind.search_index import Hit, SiteIndex
from pagemind.search_index.chunks import BREADCRUMB_SEPARATOR
from pagemind.search_index.ranking import sections

BENCH = Path(__file__).resolve().parent
CORPORA = BENCH.parents[1] / "shared" / "corpora"
SITES = {
    "mkdocs": (CORPORA / "mkdocs-docs", CORPORA / "mkdocs_qa.jsonl"),
    "httpx": (CORPORA / "httpx-docs", CORPORA / "httpx_qa.jsonl"),
    "pagemind": (BENCH.parent / "example_site", BENCH / "questions" / "pagemind_qa.jsonl"),
}
OFF_TOPIC = BENCH / "questions" / "off_topic.txt"
CUTOFFS = (1, 3, 5)
DEPTH = 40  # chunks ranked for hit@k: enough for 5 distinct sections


@dataclass
class Site:
    name: str
    config: SiteConfig
    index: SiteIndex
    items: list[dict]
    found: dict[str, Evidence] = dataclasses.field(default_factory=dict)

    def evidence(self, question: str) -> Evidence:
        """find_evidence, once per question."""
        if question not in self.found:
            self.found[question] = find_evidence(self.index, question)
        return self.found[question]


def main() -> None:
    args = parse_args()
    if args.support_share is not None:
        attribution.SUPPORT_SHARE = args.support_share
    for name in args.site:
        if not all(path.exists() for path in SITES[name]):
            print(f"\n## {name}: skipped, {SITES[name][1]} is absent")
            continue
        site = load_site(name, args)
        print(f"\n## {name}: {len(site.index.chunks)} chunks, {len(site.items)} questions\n")
        report_retrieval(site)
        report_passages_and_abstention(site)
        if args.answers:
            report_answers(site, args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", nargs="+", choices=SITES, default=list(SITES))
    parser.add_argument("--answers", action="store_true", help="also generate the answers")
    parser.add_argument("--max-tokens", type=int, help="per answer (default: the site's)")
    parser.add_argument("--first", type=int, metavar="N", help="answer only N questions")
    parser.add_argument("--top-k", type=int, help="override [assistant] top_k")
    parser.add_argument("--context-tokens", type=int, help="override [assistant] context_tokens")
    parser.add_argument("--copy-bias", type=float, help="override [assistant] copy_bias")
    parser.add_argument("--copy-span-bias", type=float, help="override [assistant] copy_span_bias")
    parser.add_argument(
        "--repetition-penalty", type=float, help="override [assistant] repetition_penalty"
    )
    parser.add_argument("--embedder-format", help="override [assistant] embedder_format")
    parser.add_argument(
        "--support-share", type=float, help="override attribution.SUPPORT_SHARE (Python only)"
    )
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "pagemind-eval-answers"
    )
    return parser.parse_args()


def load_site(name: str, args: argparse.Namespace) -> Site:
    folder, questions = SITES[name]
    config = load_config(_copy(folder, args.work / name))
    overrides = {
        key: value
        for key, value in (
            ("top_k", args.top_k),
            ("context_tokens", args.context_tokens),
            ("copy_bias", args.copy_bias),
            ("copy_span_bias", args.copy_span_bias),
            ("repetition_penalty", args.repetition_penalty),
            ("embedder_format", args.embedder_format),
        )
        if value is not None
    }
    config = dataclasses.replace(
        config, assistant=dataclasses.replace(config.assistant, **overrides)
    )
    items = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    return Site(name, config, SiteIndex.build(config), items)


def _copy(source: Path, target: Path) -> Path:
    """The site's files (not its build output or caches) under `target`, kept up to date."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if path.is_file() and relative.parts[0] not in ("site", ".pagemind-cache"):
            copy = target / relative
            if not copy.is_file() or copy.read_bytes() != path.read_bytes():
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
    return target


def report_retrieval(site: Site) -> None:
    index = site.index
    rankings: dict[str, Callable[[str], list[Hit]]] = {
        "keyword": lambda q: sections(index.search(q, DEPTH, mode="keyword")),
        "vector": lambda q: sections(index.search(q, DEPTH, mode="vector")),
        "hybrid": lambda q: sections(index.search(q, DEPTH)),
        "evidence": lambda q: site.evidence(q).sections,
    }
    print(f"| section ranking | {' | '.join(f'hit@{k}' for k in CUTOFFS)} |")
    print(f"|-----------------|{'|'.join('-------' for _ in CUTOFFS)}|")
    for mode, rank in rankings.items():
        ranked = [rank(item["question"]) for item in site.items]
        rates = [hit_rate(ranked, site.items, k) for k in CUTOFFS]
        print(f"| {mode:15} | {' | '.join(f'{rate:5.2f}' for rate in rates)} |")


def hit_rate(ranked: list[list[Hit]], items: list[dict], k: int) -> float:
    found = [
        any(answers(hit, item) for hit in hits[:k])
        for hits, item in zip(ranked, items, strict=True)
    ]
    return sum(found) / len(items)


def answers(hit: Hit, item: dict) -> bool:
    """Whether the hit is the answering section or one under it (headings compared as text:
    the question sets write them as in the Markdown, backticks and all)."""
    if hit.page != item["file"]:
        return False
    wanted = _heading_text(item["heading"])
    trail = [_heading_text(part) for part in hit.breadcrumb.split(BREADCRUMB_SEPARATOR)]
    return _heading_text(hit.heading) == wanted or wanted in trail


def _heading_text(heading: str) -> str:
    return heading.replace("`", "").strip().lower()


def holds(text: str, item: dict) -> bool:
    return all(fact.lower() in text.lower() for fact in item["must_contain"])


def report_passages_and_abstention(site: Site) -> None:
    evidences = [site.evidence(item["question"]) for item in site.items]
    passages = [best_passage(e) if e.covers else None for e in evidences]
    shown = ["\n".join(quote.text for quote in p.quotes) if p else "" for p in passages]
    held = sum(holds(text, item) for text, item in zip(shown, site.items, strict=True))
    length = sum(map(len, shown)) / max(sum(map(bool, shown)), 1)
    off_topic = [line for line in OFF_TOPIC.read_text().splitlines() if line.strip()]
    declined = sum(not site.evidence(q).covers for q in off_topic)
    answered = sum(e.covers for e in evidences)
    n = len(site.items)
    print(
        f"\npassages holding their key facts: {held / n:.2f} ({held}/{n}), "
        f"{length:.0f} characters on average"
    )
    print(
        f"relevance gate: declines {declined / len(off_topic):.2f} of off-topic prompts "
        f"({declined}/{len(off_topic)}), answers {answered / n:.2f} of the site's questions"
    )


def report_answers(site: Site, args: argparse.Namespace) -> None:
    answerer = Answerer(site.config, cpu=True, max_new_tokens=args.max_tokens)
    items = site.items[: args.first]
    totals = Totals()
    started = time.perf_counter()
    for item in items:
        answer = answerer.ask(item["question"], site.evidence(item["question"]))
        totals.add(answer, item)
        mark = "ok  " if holds(answer.text, item) else "miss"
        print(f"{item['id']}: {mark} {answer.text[:110]!r}", flush=True)
        for claim in held_facts(answer, item):
            print(f"  held back ({claim.reason}): {claim.unit.text[:100]!r}")
    print(f"\n{len(items)} answers in {time.perf_counter() - started:.0f} s")
    totals.print(len(items))


@dataclass
class Totals:
    holding: int = 0
    raw_holding: int = 0  # in what the model wrote, before the check
    words: int = 0
    grounded: int = 0
    invented_shown: int = 0
    invented_raw: int = 0
    fact_claims: int = 0
    fact_cited: int = 0
    claims: int = 0
    held_back: int = 0
    repeats: int = 0

    def add(self, answer: Answer, item: dict) -> None:
        self.holding += holds(answer.text, item)
        self.raw_holding += holds(" ".join(claim.unit.text for claim in answer.claims), item)
        if not answer.covered:
            return
        texts = [hit.text for hit in answer.sources]
        sources = [SourceText(text) for text in texts]
        question = SourceText(item["question"])
        shown = [claim for claim in answer.claims if claim.supported]
        for claim in shown:
            words = content_words(claim.unit.text)
            self.words += len(words)
            self.grounded += sum(
                any(text.has_word(word) for text in [*sources, question]) for word in words
            )
            if any(fact.lower() in claim.unit.text.lower() for fact in item["must_contain"]):
                self.fact_claims += 1
                self.fact_cited += holds_any(texts[claim.source - 1], claim.unit.text, item)
        shown_spans = invented(cut_units(answer.text), sources)
        if shown_spans:
            print(f"  invented code shown in {item['id']}: {shown_spans}")
        self.invented_shown += len(shown_spans)
        self.invented_raw += len(invented([claim.unit for claim in answer.claims], sources))
        self.claims += len(answer.claims)
        self.held_back += len(answer.claims) - len(shown)
        self.repeats += sum(claim.reason == REPEATS for claim in answer.claims)

    def print(self, count: int) -> None:
        print(
            f"answers holding their key facts: {self.holding / count:.2f} "
            f"(the model's raw output: {self.raw_holding / count:.2f})"
        )
        print(f"groundedness: {self.grounded / max(self.words, 1):.3f} ({self.words} words)")
        print(
            f"invented code spans: {self.invented_shown} shown "
            f"({self.invented_raw} in the model's raw output, held back)"
        )
        print(
            f"key-fact citation precision: {self.fact_cited / max(self.fact_claims, 1):.2f} "
            f"({self.fact_claims} sentences)"
        )
        print(
            f"sentences held back: {self.held_back}/{self.claims} "
            f"({self.repeats} of them repeat one shown before)"
        )


def held_facts(answer: Answer, item: dict) -> list[Claim]:
    """The claims held back, not as repeats, that state a key fact (of a missed answer)."""
    if holds(answer.text, item):
        return []
    return [
        claim
        for claim in answer.claims
        if claim.reason not in ("", REPEATS)
        and any(fact.lower() in claim.unit.text.lower() for fact in item["must_contain"])
    ]


def holds_any(source: str, sentence: str, item: dict) -> bool:
    """The cited source holds the key facts the sentence states."""
    facts = [fact.lower() for fact in item["must_contain"] if fact.lower() in sentence.lower()]
    return all(fact in source.lower() for fact in facts)


def invented(units, sources: list[SourceText]) -> list[str]:
    """The code spans of `units` found verbatim in no source."""
    return [
        span
        for unit in units
        for span in code_spans(unit)
        if not any(source.has_code(span) for source in sources)
    ]


if __name__ == "__main__":
    main()
