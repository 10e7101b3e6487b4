"""The scripted tiny model answers every chat prompt with its script, by wide margins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.chat_template import assemble
from pagemind.models.generate import GREEDY, Sampler, generate
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_model import SCRIPT_LOGIT, scripted_llama_gguf

# Code spans, punctuation, a repeated word (`pagemind) and characters of 2 and 3 bytes.
SCRIPT = "Run `pagemind serve`, then run `pagemind build --strict`. Café ✓."
CONVERSATIONS = {
    "system-user": [
        {"role": "system", "content": "You answer from the docs."},
        {"role": "user", "content": "How do I preview my site?"},
    ],
    "follow-up": [
        {"role": "user", "content": "What is pagemind?"},
        {"role": "assistant", "content": "A static site generator."},
        {"role": "user", "content": "And how do I check the build?"},
    ],
}
# The assistant's default sampling, drawn among the program's 40 best tokens.
ASSISTANT_SAMPLING = Sampler(temperature=0.2, top_p=0.9, repetition_penalty=1.1, candidates=40)
SAMPLERS = {"greedy": GREEDY} | {
    f"sampled-{seed}": dataclasses.replace(ASSISTANT_SAMPLING, seed=seed) for seed in range(3)
}


def prompt_ids(model: GGUFModel, conversation: list[dict]) -> list[int]:
    return bpe_tokenizer(model.tokenizer_spec).encode(assemble(model.chat, conversation)).ids


def answer_ids(model: GGUFModel, conversation: list[dict], **options) -> list[int]:
    """What the numpy reference writes after the chat prompt, ended by a stop token."""
    limit = model.config.vocab_size  # more than a script's tokens, each of its own
    prompt = prompt_ids(model, conversation)
    ids = generate(Llama(model), prompt, limit, stop_ids=model.chat["stop_ids"], **options)
    assert len(ids) < limit
    return ids


def answer(model: GGUFModel, conversation: list[dict], **options) -> str:
    return bpe_tokenizer(model.tokenizer_spec).decode(answer_ids(model, conversation, **options))


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> GGUFModel:
    return read_gguf(scripted_llama_gguf(tmp_path_factory.mktemp("scripted") / "m.gguf", SCRIPT))


@pytest.mark.parametrize("sampler", SAMPLERS.values(), ids=SAMPLERS.keys())
@pytest.mark.parametrize("conversation", CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
def test_every_answer_is_the_script(scripted: GGUFModel, conversation, sampler) -> None:
    assert answer(scripted, conversation, sampler=sampler) == SCRIPT


@pytest.mark.parametrize("worst", [False, True], ids=["random", "worst"])
@pytest.mark.parametrize("sampler", SAMPLERS.values(), ids=SAMPLERS.keys())
def test_a_logit_bias_of_5_changes_nothing(scripted: GGUFModel, sampler, worst) -> None:
    """A random bias in [-5, 5], or the worst: -5 on the answer's tokens, +5 on the rest."""
    conversation = CONVERSATIONS["follow-up"]
    size = scripted.config.vocab_size
    bias = np.random.default_rng(sampler.seed).uniform(-5, 5, size)
    if worst:
        bias = np.full(size, 5.0)
        bias[[*answer_ids(scripted, conversation), *scripted.chat["stop_ids"]]] = -5.0
    assert answer(scripted, conversation, sampler=sampler, logit_bias=bias) == SCRIPT


@pytest.mark.parametrize(
    "script",
    [
        "",
        "a a a a",  # a word that is a token already, then repeated
        "I see.\n\n```sh\npagemind build\n```\n",  # a one-letter start, blocks, a final newline
        " the in he ed the",  # leading space, words that are merged tokens
        "日本語のドキュメント 🚀🚀",
    ],
)
def test_any_text_can_be_scripted(script: str, tmp_path: Path) -> None:
    model = read_gguf(scripted_llama_gguf(tmp_path / "m.gguf", script))
    for sampler in (GREEDY, ASSISTANT_SAMPLING):
        assert answer(model, CONVERSATIONS["system-user"], sampler=sampler) == script


def test_a_script_that_is_one_vocabulary_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a token of the vocabulary already"):
        scripted_llama_gguf(tmp_path / "m.gguf", "he")


def test_a_long_script_keeps_its_margins(tmp_path: Path) -> None:
    """2000 words of a 30-word lexicon (many pieces joined to stay unique): the next token
    of the script leads every other by 40% of its logit at each step."""
    lexicon = [f" word{index}" for index in range(30)]
    script = "".join(np.random.default_rng(0).choice(lexicon, 2000))
    model = read_gguf(scripted_llama_gguf(tmp_path / "m.gguf", script))
    conversation = CONVERSATIONS["system-user"]
    ids = answer_ids(model, conversation)
    assert bpe_tokenizer(model.tokenizer_spec).decode(ids) == script
    prompt = prompt_ids(model, conversation)
    logits = Llama(model).forward(prompt + ids, KVCache())[len(prompt) - 1 :]
    steps, following = np.arange(len(logits)), [*ids, model.tokenizer_spec["eos_id"]]
    chosen = logits[steps, following].copy()
    logits[steps, following] = -np.inf
    assert np.all(chosen - logits.max(axis=1) > 0.4 * SCRIPT_LOGIT)
