"""The default embedder, all-MiniLM-L6-v2, embedding texts in the browser runtime (WordPiece
in the worker, the embed program on SwiftShader), and under Node on Dawn, as the numpy BERT
reference does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pagemind.gpu.embedder_program import compile_embedder
from pagemind.models.bert import Bert
from pagemind.models.registry import load_model, resolve_model
from runtime_site import add_model, build_runtime_site

TEXTS = [
    "pagemind builds a static documentation site from Markdown.",
    "The assistant runs in the reader's browser on WebGPU.",
    "Héllo, wörld! Ünïcode and 中文 text are tokenized too.",
]

EMBED = """
async ({urls, texts}) => {
  const rt = await window.createRuntime();
  await rt.load({...urls, model: "embedder"});
  return (await rt.embed(texts)).map((vector) => Array.from(vector));
}
"""


def test_embeddings_match_the_reference(runtime_host, tmp_path):
    model = load_model(resolve_model("all-minilm-l6-v2", "embedder", Path.cwd()))
    expected = Bert(model).embed(TEXTS)
    root = build_runtime_site(tmp_path)
    urls = add_model(root, model, compile_embedder(model, max_tokens=32), "minilm")
    run = runtime_host(root)

    # 32 rows per run: the texts (13, 16 and 16 tokens) go in two batches.
    vectors = np.array(run(EMBED, {"urls": urls.__dict__, "texts": TEXTS}))

    assert vectors.shape == expected.shape
    norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(expected, axis=1)
    cosines = (vectors * expected).sum(axis=1) / norms
    assert cosines.min() > 0.999
