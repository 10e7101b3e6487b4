"""The scripted tiny model in the program the site ships, on wgpu-py: greedy decoding and the
GPU's own sampling (the browser's path) write the numpy reference's ids, the script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES, compile_program
from pagemind.gpu.program import ProgramRunner
from pagemind.models.bpe import bpe_tokenizer
from pagemind.models.chat_template import assemble
from pagemind.models.generate import generate, seeded_random
from pagemind.models.gguf_source import read_gguf
from pagemind.models.llama import Llama
from pagemind.models.tiny_model import scripted_llama_gguf

pytestmark = pytest.mark.gpu

SCRIPT = "Run `pagemind serve`, then run `pagemind build --strict`. Café ✓."
CONVERSATION = [
    {"role": "system", "content": "You answer from the docs."},
    {"role": "user", "content": "How do I preview my site?"},
]
# The assistant's default sampling.
SAMPLING = {"temperature": 0.2, "top_p": 0.9, "repetition_penalty": 1.1}


def scripted_program(runner, path: Path) -> tuple[ProgramRunner, int, list[int]]:
    """The model's program after the prompt's prefill, the prompt's length, and the
    reference's answer ids followed by the stop token."""
    model = read_gguf(scripted_llama_gguf(path, SCRIPT))
    tokenizer = bpe_tokenizer(model.tokenizer_spec)
    prompt = tokenizer.encode(assemble(model.chat, CONVERSATION)).ids
    answer = generate(Llama(model), prompt, 100, stop_ids=model.chat["stop_ids"])
    assert tokenizer.decode(answer) == SCRIPT
    program = ProgramRunner(runner, compile_program(model), model.tensors)
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    return program, len(prompt), [*answer, model.tokenizer_spec["eos_id"]]


def test_greedy_decoding_writes_the_script(runner, tmp_path):
    program, prompt_length, expected = scripted_program(runner, tmp_path / "m.gguf")
    first = int(program.read("top_indices", np.uint32)[0])
    assert [first, *program.decode_greedy(prompt_length, len(expected) - 1)] == expected


def test_the_gpus_sampling_writes_the_script(runner, tmp_path):
    """Each sample phase penalizes the answer so far, draws among the best candidates and
    leaves its choice where the next decode reads it."""
    program, prompt_length, expected = scripted_program(runner, tmp_path / "m.gguf")
    random = seeded_random(5)
    ids: list[int] = []
    while len(ids) < len(expected):
        variables = {"n_history": len(ids), "candidates": SAMPLING_CANDIDATES, "random": random()}
        program.run("sample", variables | SAMPLING)
        ids.append(int(program.read("top_indices", np.uint32)[0]))
        program.run("decode", {"position": prompt_length + len(ids) - 1})
    assert ids == expected
