"""Build speed on a real docs folder next to MkDocs, and the embedding step against its bound.

    .venv/bin/python bench/build_speed.py [--corpus DIR | --copies 8] [--runs 2]

--corpus DIR: a site folder (mkdocs.yml or pagemind.toml beside docs/), built as it is from a
scratch copy. Without it: MkDocs' docs copied --copies times, each section of each copy given a
sentence of its own, so that no chunk's text (and so no cached vector) repeats.

Prints, measured in this one run (best of --runs):
- `pagemind build --no-check` in a fresh process: cold (no .pagemind-cache), warm (cache
  present), and after editing one page; the in-process rebuilds that `pagemind serve` does;
  the cold build's CPU time against the bound in core-seconds (a figure that other processes
  on the cores hardly move, unlike the wall times);
- `mkdocs build` of the same folder (MkDocs and the corpus's extensions and plugins in a scratch
  virtual environment outside the repository);
- embedding: the numpy embedder's chunks/s on the site's own chunks, its compute bound (the
  model's FLOPs over the measured peak of a big float32 matmul: MiniLM's own shapes, one
  thread per core, reach that same peak), sentence-transformers (torch,
  CPU, a scratch virtual environment: a peer only) on the same chunks, and the numpy rate again
  while another CPU-bound process (a numpy matmul loop) runs, its BLAS on one core and on all
  (sharing the cores fairly, the embedding would take 1.5x and 2x as long).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from embed_speed import measure_ours, measure_peer
from pagemind.builder import SiteBuilder
from pagemind.bundle import bundle_assistant
from pagemind.config import load_config
from pagemind.models.bert import Bert, available_cores
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.safetensors_source import read_bert_folder
from pagemind.search_index.site_index import SiteIndexer, parse_pages
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
MKDOCS_CORPUS = REPO / "tests" / "corpora" / "mkdocs-docs"
PAGEMIND = Path(sys.executable).with_name("pagemind")
MKDOCS_VENV = Path("/tmp/mkdocs-venv")
# What the MkDocs corpus's own mkdocs.yml loads, besides MkDocs.
MKDOCS_PACKAGES = [
    *("mkdocs", "pymdown-extensions", "mkdocs-redirects", "mkdocs-autorefs"),
    *("mkdocs-literate-nav", "mkdocstrings[python]", "markdown-callouts", "mdx-gh-links"),
    "mkdocs-click",
]
PEER_VENV = Path("/tmp/pagemind-peer-venv")
PEER_PACKAGES = ["torch==2.13.0", "sentence-transformers"]

# For the assembled corpus: common extensions, no plugins, for MkDocs and pagemind alike.
MKDOCS_YML = """\
site_name: Bench
exclude_docs: "*.py"
markdown_extensions:
  - toc: {permalink: true}
  - tables
  - admonition
  - footnotes
  - attr_list
  - def_list
  - md_in_html
  - pymdownx.details
  - pymdownx.inlinehilite
  - pymdownx.highlight: {use_pygments: true}
  - pymdownx.superfences
  - pymdownx.tasklist: {custom_checkbox: true}
  - pymdownx.tabbed: {alternate_style: true}
"""
BUSY_LOOP = (
    "import numpy as np\na = np.random.rand(1024, 1024).astype(np.float32)\nwhile True: a @ a"
)
HEADING = re.compile(r"^#{1,6} ")


def make_corpus(root: Path, copies: int) -> None:
    """`copies` copies of MkDocs' docs, each page linking to its twin in the next copy."""
    docs = root / "docs"
    for index in range(copies):
        shutil.copytree(MKDOCS_CORPUS / "docs", docs / f"part-{index:02d}")
    (docs / "index.md").write_text(
        "# Bench\n\n"
        + "".join(f"- [Part {index}](part-{index:02d}/index.md)\n" for index in range(copies))
    )
    for page in sorted(docs.glob("part-*/**/*.md")):
        part = page.relative_to(docs).parts[0]
        twin = f"part-{(int(part[5:]) + 1) % copies:02d}"
        depth = len(page.relative_to(docs).parts) - 1
        link = "../" * depth + twin + "/" + page.relative_to(docs / part).as_posix()
        text = vary_sections(page.read_text(), int(part[5:]))
        page.write_text(text + f"\n\nSee also [this page in {twin}]({link}).\n")
    (root / "mkdocs.yml").write_text(MKDOCS_YML)


def vary_sections(markdown: str, copy: int) -> str:
    """A sentence of the copy's own after each heading outside code fences."""
    lines, in_fence = [], False
    for number, line in enumerate(markdown.splitlines()):
        lines.append(line)
        in_fence ^= line.lstrip().startswith(("```", "~~~"))
        if not in_fence and HEADING.match(line):
            lines += ["", f"This is note {number} of edition {copy} of the guide."]
    return "\n".join(lines)


def unwatch(mkdocs_yml: Path) -> None:
    """Drops `watch:` (only `mkdocs serve` reads it; MkDocs refuses a path the copy lacks)."""
    if mkdocs_yml.exists():
        config = mkdocs_yml.read_text()
        mkdocs_yml.write_text(re.sub(r"^watch:\n(?:[ \t]+- .*\n)*", "", config, flags=re.M))


def ensure_venv(venv: Path, packages: list[str]) -> Path:
    """The venv's python, the packages installed from the package registry on first use."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True)
    return venv / "bin" / "python"


def best_of(runs: int, action: Callable[[], object], before: Callable[[], object] = list) -> float:
    times = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of the best of `repeats` float32 (size x size) matmuls, all cores. The bench
    takes the best of a measure before the builds and one after: on shared cores, a peak
    measured while a neighbour runs would lengthen the bound and flatter the ratios."""
    a, b = np.random.default_rng(0).random((2, size, size), dtype=np.float32)
    return 2 * size**3 / best_of(repeats, lambda: a @ b)


def core_peak(size: int = 2048, repeats: int = 5) -> float:
    """FLOP per CPU second of a float32 matmul on one BLAS thread, timed by the thread's own
    CPU clock: what a core does while it runs, however many processes share it."""
    a, b = np.random.default_rng(0).random((2, size, size), dtype=np.float32)
    seconds = []
    with threadpool_limits(1, "blas"):
        for _ in range(repeats):
            start = time.thread_time()
            a @ b
            seconds.append(time.thread_time() - start)
    return 2 * size**3 / min(seconds)


def children_cpu_seconds() -> float:
    """User and system time of the finished child processes (and theirs), so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shaped_peak(bert: Bert, tokens: int = 512, repeats: int = 5) -> float:
    """FLOP/s of one encoder layer's four matmuls at a packed batch's shape, on every core at
    once with one BLAS thread each, as the embedder runs them: the check that the big
    matmul's peak is one that MiniLM's shapes can reach."""
    hidden, intermediate = bert.config.hidden_size, bert.config.intermediate_size
    shapes = [
        (hidden, 3 * hidden),
        (hidden, hidden),
        (hidden, intermediate),
        (intermediate, hidden),
    ]
    rng = np.random.default_rng(0)
    pairs = [
        (rng.random((tokens, k), np.float32), rng.random((k, n), np.float32)) for k, n in shapes
    ]
    flops = sum(2 * tokens * k * n for k, n in shapes)
    cores = available_cores()

    def layer(_: int) -> None:
        for a, b in pairs:
            a @ b

    with threadpool_limits(1, "blas"), ThreadPoolExecutor(cores) as pool:
        seconds = best_of(repeats, lambda: list(pool.map(layer, range(4 * cores))))
    return 4 * cores * flops / seconds


def busy_rate(bert: Bert, chunks: list[str], runs: int, threads: int | None) -> float:
    """measure_ours's seconds while another process multiplies matrices: with BLAS on
    `threads` threads (None: the library's default, every core)."""
    environment = dict(os.environ)
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        environment.pop(variable, None)
        if threads:
            environment[variable] = str(threads)
    busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP], env=environment)
    try:
        time.sleep(1)
        return measure_ours(bert, chunks, runs)[0]
    finally:
        busy.kill()


def site_chunks(root: Path, embedder_manifest: Path) -> list[str]:
    """The distinct texts a build of the site embeds (the cache embeds a repeated one once)."""
    config = load_config(root)
    indexer = SiteIndexer(config, embedder_manifest)
    texts: list[str] = []

    def capture(batch: list[str]) -> np.ndarray:
        texts.extend(batch)
        return np.zeros((len(batch), indexer.embedder.dimensions), dtype=np.float32)

    indexer.cache.embed = capture
    indexer.update(parse_pages(config), ())
    return list(dict.fromkeys(texts))


def embedded_seconds(build_log: str) -> float:
    return float(re.search(r"^Embedded \d+ chunk\(s\) in ([\d.]+) s", build_log, re.M)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, help="a site folder (default: assembled)")
    parser.add_argument("--copies", type=int, default=8, help="copies of MkDocs' docs")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("pagemind").setLevel(logging.ERROR)  # MkDocs' plugin-only links warn
    mkdocs = ensure_venv(MKDOCS_VENV, MKDOCS_PACKAGES).with_name("mkdocs")
    peer_python = ensure_venv(PEER_VENV, PEER_PACKAGES)
    embedder_folder = DEFAULT_MODELS["all-minilm-l6-v2"].path()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "site"
        if args.corpus:
            shutil.copytree(args.corpus, root)
            unwatch(root / "mkdocs.yml")
        else:
            make_corpus(root, args.copies)
        pages = sorted((root / "docs").rglob("*.md"))
        edited = max(pages, key=lambda page: page.stat().st_size)
        original = edited.read_text()
        build_logs: list[str] = []

        build_cpu_seconds: list[float] = []

        def pagemind_build() -> None:
            command = [str(PAGEMIND), "build", str(root), "--no-check"]
            before = children_cpu_seconds()
            build_logs.append(subprocess.run(command, check=True, capture_output=True).stderr)
            build_cpu_seconds.append(children_cpu_seconds() - before)

        def no_cache() -> None:
            shutil.rmtree(root / ".pagemind-cache", ignore_errors=True)

        def edit_page() -> None:
            edited.write_text(original + f"\n\nEdited at {time.time()}.\n")

        peaks = [matmul_peak()]
        cold = best_of(args.runs, pagemind_build, before=no_cache)
        cold_embedding = min(embedded_seconds(log.decode()) for log in build_logs)
        cold_cpu = min(build_cpu_seconds)
        warm = best_of(args.runs, pagemind_build)
        one_edit = best_of(args.runs, pagemind_build, before=edit_page)

        def mkdocs_build() -> None:
            command = [str(mkdocs), "build", "-q", "-f", str(root / "mkdocs.yml")]
            quiet = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true"}
            subprocess.run([*command, "-d", str(root / "site-mkdocs")], check=True, env=quiet)

        mkdocs_seconds = best_of(args.runs, mkdocs_build)

        config = load_config(root)
        assistant = bundle_assistant(config)  # as `pagemind serve` does
        builder = SiteBuilder(config, assistant)
        builder.build()
        body_edit = best_of(args.runs, lambda: builder.build({edited}), before=edit_page)

        def retitle() -> None:
            edited.write_text(f"# Retitled {time.time()}\n\n{original}")

        title_edit = best_of(args.runs, lambda: builder.build({edited}), before=retitle)
        chunks = site_chunks(root, assistant.embedder_manifest)

    bert = Bert(read_bert_folder(embedder_folder))
    lengths = [len(ids) for ids in bert.tokenize(chunks)]
    peak = max(*peaks, matmul_peak())
    bound = bert.flops(lengths) / peak
    cpu_bound = bert.flops(lengths) / core_peak()
    numpy_seconds, ours = measure_ours(bert, chunks, args.runs)
    peer_seconds, peer = measure_peer(str(peer_python), embedder_folder, chunks, args.runs)
    busy_seconds = {threads: busy_rate(bert, chunks, args.runs, threads) for threads in (1, None)}

    source = args.corpus or f"MkDocs' docs x {args.copies}, varied"
    print(f"corpus: {source}: {len(pages)} pages, {len(chunks)} chunks, {sum(lengths)} tokens")
    print(
        f"machine: {available_cores()} cores, float32 matmul peak {peak / 1e9:.0f} GFLOP/s"
        f" (MiniLM's matmul shapes, one BLAS thread per core: {shaped_peak(bert) / 1e9:.0f})"
    )
    print(f"  (best of {args.runs} runs; page edited: {edited.relative_to(root)})")
    print(
        f"pagemind cold build           {cold:7.2f} s  (embedding {cold_embedding:.2f} s,"
        f" the rest {cold - cold_embedding:.2f} s)"
    )
    print(f"pagemind warm build           {warm:7.2f} s  (every vector from the cache)")
    print(f"pagemind after one page edit  {one_edit:7.2f} s")
    print(f"mkdocs build                  {mkdocs_seconds:7.2f} s")
    print(f"pagemind serve rebuild        {body_edit:7.3f} s  (one page body edited)")
    print(f"pagemind serve rebuild        {title_edit:7.3f} s  (one title: every nav re-rendered)")
    print(f"embedding compute bound       {bound:7.2f} s  ({bert.flops(lengths) / 1e12:.2f} TFLOP)")
    print(
        f"  cold build / bound {cold / bound:.2f}x, embedding / bound {cold_embedding / bound:.2f}x"
    )
    print(
        f"  cold build CPU time {cold_cpu:.2f} core-s / bound {cpu_bound:.2f} core-s"
        f" = {cold_cpu / cpu_bound:.2f}x (both on CPU clocks: the wall figures include any"
        " wait for cores that other processes hold)"
    )
    print(f"  warm build / mkdocs build {warm / mkdocs_seconds:.2f}x")
    rates = {
        "numpy": numpy_seconds,
        "sentence-transformers (torch)": peer_seconds,
        "numpy, another process busy on one core": busy_seconds[1],
        "numpy, another process's BLAS on all cores": busy_seconds[None],
    }
    for name, seconds in rates.items():
        print(f"chunks/s {name:41s} {len(chunks) / seconds:7.1f}  ({bound / seconds:.0%} of peak)")
    print(f"  numpy / sentence-transformers {peer_seconds / numpy_seconds:.2f}x")
    print(
        f"  slowdown with another process busy on one core {busy_seconds[1] / numpy_seconds:.2f}x,"
        f" on all cores {busy_seconds[None] / numpy_seconds:.2f}x (sharing fairly: 1.5x, 2x)"
    )
    print(f"  lowest cosine numpy vs sentence-transformers {(ours * peer).sum(axis=1).min():.6f}")


if __name__ == "__main__":
    main()
