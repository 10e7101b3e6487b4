"""`pagemind feedback EXPORT.json...`: what readers' ratings say about the docs, for the
author, as Markdown: the questions rated down (grouped as the panel's answer cache groups
them: case, spacing and closing punctuation aside), the sections those answers drew on
(most often first), and the share rated helpful.

The files are the panel's "Export ratings" downloads (runtime/assistant_feedback.js):

    {"format": "pagemind-feedback/1", "site": "https://...",
     "feedback": [{"id", "rating": "up" | "down", "question", "answer",
                   "sources": [{"url", "heading", "breadcrumb"}], "page", "time"}]}
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pagemind.errors import PagemindError

log = logging.getLogger("pagemind")

FEEDBACK_FORMAT = "pagemind-feedback/1"
RATINGS = ("up", "down")
EXPORT_FIX = "export the ratings again with the assistant panel's 'Export ratings' button"


@dataclass(frozen=True)
class Source:
    url: str
    label: str  # the breadcrumb, or the heading without one


@dataclass(frozen=True)
class Rating:
    id: str  # with `time`, tells the same rating in two exports of one browser
    time: str
    rating: str
    question: str
    sources: tuple[Source, ...]


def register(
    subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "feedback",
        parents=parents,
        help="summarize readers' exported ratings as a Markdown report",
        description="Read the ratings readers exported from the assistant panel ('Export "
        "ratings', pagemind-feedback/1 JSON files) and print a Markdown report: the "
        "questions whose answers were rated down, the sections those answers drew on, most "
        "often first, and the share of answers rated helpful.",
    )
    parser.add_argument(
        "exports", type=Path, nargs="+", metavar="EXPORT.json", help="exported ratings"
    )
    parser.add_argument("-o", "--output", type=Path, help="write the report to this file")
    parser.add_argument(
        "--force", action="store_true", help="overwrite the --output file if it exists"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.output and args.output.exists() and not args.force:
        raise PagemindError(
            "the report file exists already",
            file=args.output,
            fix="name another file with -o, or add --force to overwrite it",
        )
    ratings = list(dict.fromkeys(rating for path in args.exports for rating in read_export(path)))
    report = markdown_report(ratings, len(args.exports))
    if args.output:
        args.output.write_text(report, encoding="utf-8")
        log.info("Wrote the report on %d rating(s) to %s", len(ratings), args.output)
    else:
        print(report, end="")
    return 0


def read_export(path: Path) -> list[Rating]:
    """The ratings of one exported file; a PagemindError naming the file and the entry when
    it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PagemindError(
            f"not a JSON file ({error.msg})", file=path, line=error.lineno, fix=EXPORT_FIX
        ) from None
    except UnicodeDecodeError:
        raise PagemindError("not a UTF-8 text file", file=path, fix=EXPORT_FIX) from None
    if not isinstance(data, dict) or data.get("format") != FEEDBACK_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise PagemindError(
            f"expected format {FEEDBACK_FORMAT!r}, found {found!r}",
            file=path,
            key="format",
            fix=EXPORT_FIX,
        )
    entries = data.get("feedback")
    if not isinstance(entries, list):
        raise _invalid(path, "feedback", "a list of ratings")
    return [_rating(entry, path, f"feedback[{i}]") for i, entry in enumerate(entries)]


def _invalid(path: Path, key: str, expected: str) -> PagemindError:
    return PagemindError(f"{expected} expected", file=path, key=key, fix=EXPORT_FIX)


def _rating(entry: object, path: Path, where: str) -> Rating:
    if not isinstance(entry, dict):
        raise _invalid(path, where, "an object")
    if entry.get("rating") not in RATINGS:
        raise _invalid(path, f"{where}.rating", '"up" or "down"')
    question = entry.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _invalid(path, f"{where}.question", "the question's text")
    sources = entry.get("sources", [])
    if not isinstance(sources, list):
        raise _invalid(path, f"{where}.sources", "a list")
    return Rating(
        str(entry.get("id", "")),
        str(entry.get("time", "")),
        entry["rating"],
        question.strip(),
        tuple(_source(source, path, f"{where}.sources[{j}]") for j, source in enumerate(sources)),
    )


def _source(source: object, path: Path, where: str) -> Source:
    if not isinstance(source, dict) or not isinstance(source.get("url"), str):
        raise _invalid(path, f"{where}.url", "the section's URL")
    label = source.get("breadcrumb") or source.get("heading") or source["url"]
    return Source(source["url"], str(label))


def question_key(question: str) -> str:
    """As the panel's answer cache files a question (runtime/answer_cache.js)."""
    return re.sub(r"[\s?!.,;:]+$", "", re.sub(r"\s+", " ", question.lower()).strip())


def markdown_report(ratings: list[Rating], files: int) -> str:
    """The report on `ratings` (each once) read from `files` exports."""
    down = [rating for rating in ratings if rating.rating == "down"]
    helpful = len(ratings) - len(down)
    share = f"{helpful / len(ratings):.0%}" if ratings else "no answers"
    lines = [
        "# What readers' ratings say",
        "",
        f"{len(ratings)} rated answers from {files} export(s): {helpful} helpful ({share}), "
        f"{len(down)} not helpful.",
        "",
        "## Questions rated down",
        "",
        *(_questions(down) or ["None."]),
        "",
        "## Sections behind the answers rated down",
        "",
        *(_sections(down, ratings) or ["None."]),
    ]
    return "\n".join(lines) + "\n"


def _questions(down: list[Rating]) -> list[str]:
    """Most often first; each group under its first spelling."""
    groups: dict[str, list[Rating]] = {}
    for rating in down:
        groups.setdefault(question_key(rating.question), []).append(rating)
    ordered = sorted(groups.values(), key=lambda group: -len(group))
    lines = []
    for group in ordered:
        sections = dict.fromkeys(source.label for rating in group for source in rating.sources)
        drew_on = "; ".join(_plain(label) for label in sections) or "no section"
        lines.append(f"- {_plain(group[0].question)} ({_times(len(group))}; from: {drew_on})")
    return lines


def _sections(down: list[Rating], ratings: list[Rating]) -> list[str]:
    """Most hit first, with how often answers drawing on them were rated helpful."""
    labels = {source.url: source.label for rating in reversed(down) for source in rating.sources}
    hits = Counter(source.url for rating in down for source in rating.sources)
    up = Counter(
        source.url for rating in ratings if rating.rating == "up" for source in rating.sources
    )
    return [
        f"- {_plain(labels[url])} (`{url}`): {count} down, {up[url]} up"
        for url, count in sorted(hits.items(), key=lambda item: (-item[1], item[0]))
    ]


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _plain(text: str) -> str:
    """Reader text on one line, its Markdown shown as typed rather than formatted."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", " ".join(text.split()))
