"""A compact first pass over the chunk vectors, against the exact cosine the index ranks with.

    .venv/bin/python bench/vector_first_pass.py [--candidates 10 20 40 80]

The first pass scores every chunk by its 1-bit sign vector (48 bytes a chunk at 384
dimensions; the cosine estimated as the query's dot product with the signs over the square
root of the dimensions), fused with the keyword lift as the hybrid ranking fuses the cosine;
the best C chunks are then ranked again with their exact int8 vectors, fetched in groups of
the index's page-grouped fragments. Printed per question set (bench/eval_answers.py's sites,
whose corpora are read from ../shared/corpora where present) and C:

- same top 5    questions whose hybrid top 5 (ids, in order) equal the exact ranking's
- bytes         signs of every chunk + the int8 groups the candidates need (mean a query),
                against the whole int8 vectors file that exact ranking downloads
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
from eval_answers import SITES
from pagemind.config import load_config
from pagemind.search_index.ranking import FUSION_WEIGHT
from pagemind.search_index.shards import fragments
from pagemind.search_index.site_index import SiteIndex

TOP = 5


def first_pass_top(index: SiteIndex, query: str, vector: np.ndarray, candidates: int):
    """(the top TOP chunk ids after rescoring, the candidates' chunk ids)."""
    ranker = index.ranker
    keywords = ranker._bm25(query)
    lift = np.array([keywords.lift(number) for number in range(len(ranker.chunks))])
    unit = vector / np.linalg.norm(vector)
    signs = np.where(ranker.vectors >= 0, 1.0, -1.0)
    estimate = signs @ unit / np.sqrt(signs.shape[1])
    chosen = np.argsort(-(estimate + FUSION_WEIGHT * lift), kind="stable")[:candidates]
    exact = ranker.vectors[chosen] @ unit + FUSION_WEIGHT * lift[chosen]
    order = sorted(range(len(chosen)), key=lambda i: (-exact[i], chosen[i]))
    return [int(chosen[i]) for i in order[:TOP]], chosen


def measure(name: str, root: Path, questions: list[str], sizes: list[int]) -> None:
    index = SiteIndex.build(load_config(root))
    count, dimensions = index.ranker.vectors.shape
    firsts = fragments(index.chunks).first
    group_chunks = np.diff([*firsts, count])
    row = 4 + dimensions  # float32 scale + int8 components
    signs = count * ((dimensions + 7) // 8)
    print(f"\n## {name}: {count} chunks, {len(questions)} questions, {dimensions} dimensions")
    print(f"whole int8 vectors: {count * row / 1e3:.1f} kB; signs: {signs / 1e3:.1f} kB")
    print("candidates | same top 5 | signs + groups fetched (mean) | of the whole file")
    vectors = [index.embed_query(question) for question in questions]
    exact = [
        [hit.id for hit in index.ranker.hybrid(q, v, TOP)]
        for q, v in zip(questions, vectors, strict=True)
    ]
    for size in sizes:
        same, fetched = 0, []
        for question, vector, expected in zip(questions, vectors, exact, strict=True):
            top, chosen = first_pass_top(index, question, vector, size)
            same += top == expected
            groups = {bisect.bisect_right(firsts, int(n)) - 1 for n in chosen}
            fetched.append(signs + sum(int(group_chunks[g]) * row for g in groups))
        mean = float(np.mean(fetched))
        print(
            f"{size} | {same}/{len(questions)} ({same / len(questions):.0%}) | "
            f"{mean / 1e3:.1f} kB | {mean / (count * row):.0%}"
        )


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
