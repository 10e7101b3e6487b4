"""The shipped two-pass meaning-based ranking against exact cosine over every chunk.

    .venv/bin/python bench/vector_first_pass.py [--candidates 10 20 40 80]

The index ranks in two passes (pagemind.search_index.ranking): every chunk's sign bits (48
bytes a chunk at 384 dimensions) give a cosine estimate, fused with the keyword lift as the
hybrid ranking fuses the cosine; the best FIRST_PASS_CANDIDATES are ranked again with their
exact int8 vectors, which a browser fetches in the index's vector groups. Here the shipped
Ranker.hybrid runs with each candidate count (the shipped one marked *) against the fused
ranking of exact int8 cosine over all chunks. Printed per question set
(bench/eval_answers.py's sites, whose corpora are read from ../shared/corpora where present):

- same top 5    questions whose hybrid top 5 (ids, in order) equal the exact ranking's
- vector bytes  signs of every chunk + the vector groups the candidates fall in (mean a
                query), against every vector group (what exact ranking downloads)
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
from eval_answers import SITES
from pagemind.config import load_config
from pagemind.search_index import ranking
from pagemind.search_index.ranking import FIRST_PASS_CANDIDATES, FUSION_WEIGHT, Ranker
from pagemind.search_index.shards import fragments
from pagemind.search_index.site_index import SiteIndex

TOP = 5


def exact_top(ranker: Ranker, query: str, vector: np.ndarray) -> list[int]:
    """The hybrid top TOP over every chunk's exact cosine."""
    unit = vector.astype(np.float64) / np.linalg.norm(vector)
    fused = ranker.vectors @ unit
    for hit in ranker.keyword(query, len(ranker.chunks)):
        fused[hit.id] += FUSION_WEIGHT * hit.strength * hit.coverage
    return np.argsort(-fused, kind="stable")[:TOP].tolist()


def measure(name: str, root: Path, questions: list[str], sizes: list[int]) -> None:
    index = SiteIndex.build(load_config(root))
    ranker = index.ranker
    count, dimensions = ranker.vectors.shape
    firsts = fragments(index.chunks).first  # where the vector groups start
    group_bytes = np.diff([*firsts, count]) * (4 + dimensions)
    signs = count * 4 * math.ceil(dimensions / 32)
    print(f"\n## {name}: {count} chunks, {len(questions)} questions, {dimensions} dimensions")
    print(f"all vector groups: {group_bytes.sum() / 1e3:.1f} kB; signs: {signs / 1e3:.1f} kB")
    print("candidates | same top 5 | signs + groups fetched (mean) | of all groups")
    vectors = [index.embed_query(question) for question in questions]
    exact = [exact_top(ranker, q, v) for q, v in zip(questions, vectors, strict=True)]
    for size in sizes:
        ranking.FIRST_PASS_CANDIDATES = size
        same, fetched = 0, []
        for question, vector, expected in zip(questions, vectors, exact, strict=True):
            same += [hit.id for hit in ranker.hybrid(question, vector, TOP)] == expected
            chosen = ranker.candidates(question, vector)
            groups = {bisect.bisect_right(firsts, number) - 1 for number in chosen}
            fetched.append(signs + sum(int(group_bytes[group]) for group in groups))
        mean = float(np.mean(fetched))
        shipped = "*" if size == FIRST_PASS_CANDIDATES else ""
        print(
            f"{size}{shipped} | {same}/{len(questions)} ({same / len(questions):.0%}) | "
            f"{mean / 1e3:.1f} kB | {mean / group_bytes.sum():.0%}"
        )
    ranking.FIRST_PASS_CANDIDATES = FIRST_PASS_CANDIDATES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, nargs="+", default=[10, 20, 40, 80])
    args = parser.parse_args()
    logging.getLogger("pagemind").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as scratch:
        for name, (source, questions_file) in SITES.items():
            if not questions_file.exists():
                print(f"\n## {name}: skipped, {questions_file} is absent")
                continue
            root = Path(scratch) / name
            shutil.copytree(source, root, ignore=shutil.ignore_patterns("site"))
            lines = questions_file.read_text().splitlines()
            questions = [json.loads(line)["question"] for line in lines if line.strip()]
            measure(name, root, questions, args.candidates)


if __name__ == "__main__":
    main()
