"""The numpy Llama reference against transformers (fixtures), and its parts on small inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pagemind.models import layers
from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.generate import Sampler, generate, penalize_repetition
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.registry import resolve_model
from pagemind.models.tiny_model import tiny_llama_gguf
from paths import REPO

FIXTURES = REPO / "tests" / "fixtures"
REFERENCE = json.loads((FIXTURES / "llama_reference.json").read_text(encoding="utf-8"))
# Both sides dequantize the same blocks to float32; what is left is summation order.
LOGIT_TOLERANCE = 2e-4


@pytest.fixture(scope="module")
def smollm2_file() -> GGUFModel:
    return read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO))


@pytest.fixture(scope="module")
def smollm2(smollm2_file: GGUFModel) -> Llama:
    return Llama(smollm2_file)


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Llama:
    folder = tmp_path_factory.mktemp(request.param)
    path = tiny_llama_gguf(
        folder / "tiny.gguf", architecture=request.param, tied_embeddings=request.param == "llama"
    )
    return Llama(read_gguf(path))


@pytest.mark.parametrize("prompt", REFERENCE["prompts"], ids=lambda prompt: prompt["text"][:20])
def test_last_position_logits_match_transformers(smollm2: Llama, prompt: dict) -> None:
    logits = smollm2.forward(prompt["ids"], KVCache())[-1]
    top = np.argsort(-logits, kind="stable")[: len(prompt["top_ids"])]
    assert top.tolist() == prompt["top_ids"]
    np.testing.assert_allclose(logits[top], prompt["top_logits"], rtol=0, atol=LOGIT_TOLERANCE)


def test_full_vocabulary_logits_match_transformers(smollm2: Llama) -> None:
    reference = np.load(FIXTURES / "llama_reference_logits.npz")
    logits = smollm2.forward(reference["ids"].tolist(), KVCache())[-1]
    assert logits.shape == (49152,)
    np.testing.assert_allclose(logits, reference["logits"], rtol=0, atol=LOGIT_TOLERANCE)


def test_greedy_chat_continuation_matches_transformers_token_for_token(smollm2: Llama) -> None:
    chat = REFERENCE["chat"]
    assert generate(smollm2, chat["ids"], len(chat["greedy"])) == chat["greedy"]


def test_chat_prompt_tokenizes_as_transformers(smollm2_file: GGUFModel) -> None:
    chat = REFERENCE["chat"]
    assert bpe_tokenizer(smollm2_file.tokenizer_spec).encode(chat["text"]).ids == chat["ids"]


TINY_REFERENCE = np.load(FIXTURES / "tiny_reference_logits.npz")


@pytest.mark.parametrize("name", json.loads(str(TINY_REFERENCE["models"])))
def test_small_models_of_each_architecture_match_transformers(name: str, tmp_path: Path) -> None:
    """qwen2 (Q/K/V biases, NEOX rope), untied F16 heads and Q4_0 / Q8_0 matrices, which
    the default model does not use, on random models written by tiny_llama_gguf."""
    arguments = json.loads(str(TINY_REFERENCE["models"]))[name]
    model = Llama(read_gguf(tiny_llama_gguf(tmp_path / f"{name}.gguf", **arguments)))
    logits = model.forward(TINY_REFERENCE["tokens"].tolist(), KVCache())
    np.testing.assert_allclose(logits, TINY_REFERENCE[name], rtol=0, atol=1e-4)


def test_prefill_then_decode_equals_one_batched_pass(tiny: Llama) -> None:
    tokens = [5, 80, 17, 200, 3, 99, 42]
    batched = tiny.forward(tokens, KVCache())
    cache = KVCache()
    stepwise = [tiny.forward(tokens[:3], cache)]
    stepwise += [tiny.forward([token], cache) for token in tokens[3:]]
    assert cache.length == len(tokens)
    np.testing.assert_allclose(np.concatenate(stepwise), batched, rtol=0, atol=1e-4)


def test_earlier_positions_ignore_later_tokens(tiny: Llama) -> None:
    first = tiny.forward([5, 80, 17], KVCache())
    longer = tiny.forward([5, 80, 17, 200, 3], KVCache())
    np.testing.assert_allclose(longer[:3], first, rtol=0, atol=1e-5)
    assert not np.allclose(tiny.forward([5, 81, 17], KVCache())[-1], first[-1])


def test_interleaved_rope_on_permuted_rows_equals_neox_rope() -> None:
    """Why GGUF llama uses interleaved rope: the converter permutes Q/K rows so that pairs
    (i, i + d/2) of the original head become adjacent (2i, 2i + 1)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 8)).astype(np.float32)
    positions = np.array([0, 1, 2, 7, 100])
    to_pairs = np.stack([np.arange(4), np.arange(4) + 4], axis=1).reshape(-1)  # 0,4,1,5,...
    neox = layers.rope(x, positions, 10000.0, interleaved=False)
    interleaved = layers.rope(x[..., to_pairs], positions, 10000.0, interleaved=True)
    np.testing.assert_allclose(interleaved, neox[..., to_pairs], atol=1e-5)
    np.testing.assert_allclose(layers.rope(x, np.zeros(5), 1e4, interleaved=True), x)


def test_grouped_query_attention_equals_per_head_softmax() -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((3, 4, 8)).astype(np.float32)  # 3 queries after 2 cached
    k, v = (rng.standard_normal((5, 2, 8)).astype(np.float32) for _ in range(2))
    result = layers.attention(q, k, v, causal_offset=2)
    for head in range(4):
        kv = head // 2
        for query in range(3):
            visible = slice(0, query + 3)
            scores = k[visible, kv] @ q[query, head] / np.sqrt(8)
            weights = np.exp(scores - scores.max())
            expected = weights / weights.sum() @ v[visible, kv]
            np.testing.assert_allclose(result[query, head], expected, atol=1e-5)


def test_gelu_is_the_erf_form() -> None:
    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    np.testing.assert_allclose(layers.gelu(x), exact, rtol=0, atol=1e-6)


def test_sampling_is_seeded_and_top_k_1_is_greedy(tiny: Llama) -> None:
    prompt = [5, 80, 17]
    warm = Sampler(temperature=1.5, top_p=0.95, seed=11)
    assert generate(tiny, prompt, 12, warm) == generate(tiny, prompt, 12, warm)
    seeds = [Sampler(temperature=1.5, seed=seed) for seed in range(4)]
    assert len({tuple(generate(tiny, prompt, 12, sampler)) for sampler in seeds}) > 1
    top_1 = Sampler(temperature=1.0, top_k=1, seed=3)
    assert generate(tiny, prompt, 12, top_1) == generate(tiny, prompt, 12)


def test_generation_ends_before_a_stop_token(tiny: Llama) -> None:
    greedy = generate(tiny, [5, 80, 17], 10)
    stop = greedy[4]
    assert generate(tiny, [5, 80, 17], 10, stop_ids=[stop]) == greedy[: greedy.index(stop)]


def test_repetition_penalty_lowers_seen_tokens_only() -> None:
    logits = np.array([2.0, -2.0, 2.0, -2.0], np.float32)
    penalized = penalize_repetition(logits, [0, 1, 1], 2.0)
    assert penalized.tolist() == [1.0, -4.0, 2.0, -2.0]
    assert logits.tolist() == [2.0, -2.0, 2.0, -2.0]
