"""How soon a returning reader's assistant is ready: the generator (SmolLM2-135M's shapes and
default format, Q4_1) and the embedder (MiniLM-L6's shapes, Q8_0), with random weights (the
time does not depend on the values), loaded once as a first visit does, then again in a fresh
runtime as a second visit does. Ready means: manifests read, shards in memory, weights
uploaded, pipelines built.

- Chromium (WebGPU on SwiftShader here, or the GPU it finds): the second load reads the
  shards from Cache Storage, where the first load put them after checking their sha256; a
  cached shard is checked by its length only. The bench prints what hashing every cached
  byte again would add, measured in the same page.
- Node on Dawn (--node; the GPU it finds): Node has no Cache Storage, so both loads read
  the shards from the local server: the second shows the load without download time.

For each host, a returning visit's load is then broken down by phase (Session.load's onPhase:
device, program, manifest, shards, WGSL sources, shader modules and pipelines with how many
were created rather than shared, upload, buffers, bind groups, tokenizer), with the times of
the first embedding and the first token right after it.

    .venv/bin/python bench/cached_start.py [--node] [--no-chromium]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "runtime")]

from decode_speed import SMOLLM2_135M_SHAPES  # noqa: E402
from embed_gpu_speed import MINILM_SHAPES  # noqa: E402
from node_runtime_speed import measure_chromium, measure_node  # noqa: E402
from pagemind.gpu.compile_model import compile_program  # noqa: E402
from pagemind.models.gguf_source import read_gguf  # noqa: E402
from pagemind.models.safetensors_source import read_bert_folder  # noqa: E402
from pagemind.models.tiny_model import random_bert_folder, tiny_llama_gguf  # noqa: E402
from runtime_site import add_model, build_runtime_site  # noqa: E402
from static_host import StaticHost  # noqa: E402

# A returning visit's load timed by phase (the runtime core itself: Node's harness gives it,
# a page imports it), then the first embedding and the first token right after, which would
# show any work the load left for later. Milliseconds from the start of the load.
PHASED = """
async (models) => {
  const session = typeof document === "undefined"
    ? await window.createRuntime()
    : new (await import("./_pagemind/runtime/session.js")).Session();
  const phases = [];
  const onPhase = (event) => phases.push(event);
  const origin = performance.now();
  await Promise.all(models.map((model) => session.load(model, undefined, undefined, onPhase)));
  const ready = performance.now() - origin;
  await session.embed([[101, 2000, 102]], {model: "embedder"});
  const firstEmbedding = performance.now() - origin;
  await session.generate([1, 2, 3], {maxTokens: 1});
  const firstToken = performance.now() - origin;
  await session.close();
  const relative = (event) => ({...event, start: event.start - origin, end: event.end - origin});
  return {ready, firstEmbedding, firstToken, phases: phases.map(relative)};
}
"""

# Milliseconds: both models loaded by a fresh runtime, twice; reading their shards alone (as
# the second load reads them: Cache Storage where there is one, else the network); SHA-256
# over as many bytes as the shards hold.
MEASURE = """
async ({models, shards, base}) => {
  const timed = async (work) => {
    const start = performance.now();
    const result = await work();
    return [performance.now() - start, result];
  };
  const loadBoth = async () => {
    const rt = await window.createRuntime();
    const [time, ready] = await timed(() => Promise.all(models.map((m) => rt.load(m))));
    return [rt, time, ready[0].adapter];
  };
  const [first, firstLoad, adapter] = await loadBoth();
  first.terminate?.();
  const [second, secondLoad] = await loadBoth();
  second.terminate?.();
  const rt = await window.createRuntime(); // one model at a time, as a third visit
  const each = {};
  for (const model of models) [each[model.model]] = await timed(() => rt.load(model));
  const cache = globalThis.caches && (await caches.open("pagemind-models"));
  const read = async (path) => {
    const url = new URL(path, base).href; // Node's fetch takes no relative URL
    const response = (await cache?.match(url)) ?? (await fetch(url));
    return new Uint8Array(await response.arrayBuffer());
  };
  const [reading, bytes] = await timed(() => Promise.all(shards.map(read)));
  const all = new Uint8Array(bytes.reduce((sum, part) => sum + part.length, 0));
  const [hashing] = await timed(() => crypto.subtle.digest("SHA-256", all));
  const phased = await (PHASED)(models);
  return {adapter, firstLoad, secondLoad, each, reading, hashing, phased};
}
""".replace("PHASED", PHASED.strip())


def build_site(root: Path) -> tuple[list[dict], list[str]]:
    """The runtime site with both models; their load arguments and their shards' paths."""
    build_runtime_site(root)
    generator = read_gguf(
        tiny_llama_gguf(root / "generator.gguf", matrix_format="Q4_1", **SMOLLM2_135M_SHAPES)
    )
    bert_folder = random_bert_folder(root / "minilm", **MINILM_SHAPES, max_seq_length=256)
    embedder = read_bert_folder(bert_folder, weight_format="Q8_0")
    models = []
    for name, model in (("embedder", embedder), ("generator", generator)):  # the page's order
        urls = add_model(root, model, compile_program(model), name)
        models.append({**urls.__dict__, "model": name})
    shards = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.bin"))
    return models, shards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", action="store_true", help="also under Node on Dawn")
    parser.add_argument("--no-chromium", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        models, shards = build_site(Path(folder))
        shard_bytes = sum((Path(folder) / shard).stat().st_size for shard in shards)
        server = StaticHost(Path(folder))
        arguments = {"models": models, "shards": shards, "base": server.url}
        hosts = {"chromium": measure_chromium} if not args.no_chromium else {}
        hosts |= {"node": measure_node} if args.node else {}
        try:
            results = {host: run(server.url, MEASURE, arguments) for host, run in hosts.items()}
        finally:
            server.close()
    print(f"generator (Q4_1) + embedder (Q8_0): {shard_bytes / 1e6:.1f} MB of shards")
    for host, result in results.items():
        print(f"{host} on {result['adapter']}")
        print(f"  first visit (download, upload, pipelines) {result['firstLoad'] / 1000:7.2f} s")
        print(f"  second visit, ready                        {result['secondLoad'] / 1000:7.2f} s")
        print(f"    of which reading the shards at most      {result['reading'] / 1000:7.2f} s")
        for model, milliseconds in result["each"].items():
            label = f"a third visit, the {model} alone"
            print(f"  {label:41s}  {milliseconds / 1000:7.2f} s")
        print(f"  hashing the shards again would add         {result['hashing'] / 1000:7.2f} s")
        print_phases(result["phased"])


def print_phases(phased: dict) -> None:
    """A returning visit's load, phase by phase: when each began and ended (phases of one
    model overlap, and so do the two models' loads)."""
    print(f"  by phase (ms from the start; ready at {phased['ready']:.0f} ms):")
    print(f"    {'model':10s}{'phase':16s}{'start':>8s}{'end':>8s}{'took':>8s}{'created':>9s}")
    for event in sorted(phased["phases"], key=lambda event: (event["model"], event["start"])):
        took = event["end"] - event["start"]
        created = str(event.get("created", ""))
        print(
            f"    {event['model']:10s}{event['phase']:16s}{event['start']:8.0f}"
            f"{event['end']:8.0f}{took:8.0f}{created:>9s}"
        )
    print(f"    first embedding done at {phased['firstEmbedding']:.0f} ms")
    print(f"    first token done at     {phased['firstToken']:.0f} ms")


if __name__ == "__main__":
    main()
