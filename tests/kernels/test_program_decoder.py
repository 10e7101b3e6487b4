"""The compiled decoder program on wgpu-py against the numpy Llama reference: a prefill of
the prompt, then decoding token by token from the GPU's own picks or tokens the CPU wrote
over them, greedy steps submitted together, and the logit and copy-span biases that steer
the choices."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pagemind.assistant.answer import ProgramDecoder
from pagemind.gpu.compare import relative_error
from pagemind.gpu.program import ProgramRunner, compile_decoder, copy_source_words
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.generate import (
    ANSWER_START,
    GREEDY,
    MAX_COPY_SOURCE,
    MAX_SPAN_MATCH,
    SPAN_SEPARATOR,
    CopySpans,
    Sampler,
    generate,
    seeded_random,
)
from pagemind.models.gguf_source import GGUFModel, read_gguf
from pagemind.models.llama import KVCache, Llama
from pagemind.models.tiny_model import tiny_llama_gguf

pytestmark = pytest.mark.gpu

TOLERANCE = 1e-4  # logits relative to their scale, after the whole f32 network
K_QUANT_SHAPES = {"hidden_size": 256, "intermediate_size": 512}  # rows of 256-value blocks
GENERATED = 6


def check_step(program: ProgramRunner, expected_logits: np.ndarray) -> int:
    """Compare the GPU's logits and greedy pick with the reference; return the pick."""
    assert relative_error(program.read("logits"), expected_logits) < TOLERANCE
    greedy = int(program.read("top_indices", np.uint32)[0])
    assert greedy == int(np.argmax(expected_logits))
    return greedy


@pytest.mark.parametrize(
    ("options", "prompt_length"),
    [
        ({"architecture": "llama", "matrix_format": "Q4_1"}, 37),
        ({"architecture": "qwen2", "matrix_format": "Q8_0", "tied_embeddings": False}, 5),
        ({"architecture": "llama", "matrix_format": "Q4_0", "num_kv_heads": 4}, 1),
        ({"architecture": "llama", "matrix_format": "F32"}, 3),
        ({"architecture": "qwen2", "matrix_format": "F16"}, 12),
        # Q4_K with Q6_K attn_v and ffn_down in block 1 (so its Q/K/V parts differ in
        # format), rows of whole super-blocks; an untied F16 head.
        ({"matrix_format": "Q4_K_M", **K_QUANT_SHAPES, "tied_embeddings": False}, 9),
    ],
    ids=[
        "llama-Q4_1",
        "qwen2-Q8_0-untied",
        "llama-Q4_0-mha",
        "llama-F32",
        "qwen2-F16",
        "llama-Q4_K_M",
    ],
)
def test_prefill_then_decode_follow_the_reference(runner, tmp_path, options, prompt_length):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", **options))
    prompt = np.random.default_rng(7).integers(0, model.config.vocab_size, prompt_length)
    reference, cache = Llama(model), KVCache()
    program = ProgramRunner(
        runner, compile_decoder(model, context_length=64, max_prefill_tokens=40), model.tensors
    )

    program.write("tokens", prompt.astype(np.uint32))
    program.run("prefill", {"n_tokens": prompt_length, "position": 0})
    token = check_step(program, reference.forward(prompt.tolist(), cache)[-1])

    for position in range(prompt_length, prompt_length + GENERATED):
        if position % 2:  # a token the CPU chose instead of the GPU's pick
            token = (token + 1) % model.config.vocab_size
            program.write("top_indices", np.array([token], np.uint32))
        program.run("decode", {"position": position})
        token = check_step(program, reference.forward([token], cache)[0])


def test_decode_runs_six_dispatches_per_layer(tmp_path):
    """The norm, Q, K and V in one product, whose rows rope_to_cache reads; the norm, gate,
    up and SwiGLU in one; the output norm in the logits product, then the logit biases."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", num_layers=2))
    decode = compile_decoder(model, context_length=16, max_prefill_tokens=4).phases["decode"]
    layer = ["matvec_norm", "rope_to_cache_interleaved", "attention", "matvec_accumulate"]
    layer += ["matvec_norm_swiglu", "matvec_accumulate"]
    tail = ["matvec_norm", "add_logit_bias", "copy_span_bias", "top_k_lists", "top_k"]
    assert [step.kernel for step in decode] == ["embedding", *layer * 2, *tail]


def test_qwen2_decode_adds_the_qkv_bias_after_the_normalizing_product(tmp_path):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf", architecture="qwen2"))
    decode = compile_decoder(model, context_length=16, max_prefill_tokens=4).phases["decode"]
    assert [step.kernel for step in decode[1:4]] == [
        "matvec_norm",
        "add_bias",
        "rope_to_cache_neox",
    ]


def test_greedy_decode_steps_submitted_together_follow_the_reference(runner, tmp_path):
    """Each decode step embeds the previous step's pick on the GPU: one read for all."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(11).integers(0, model.config.vocab_size, 9).tolist()
    program = ProgramRunner(
        runner, compile_decoder(model, context_length=32, max_prefill_tokens=16), model.tensors
    )
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    first = int(program.read("top_indices", np.uint32)[0])

    decoded = program.decode_greedy(len(prompt), GENERATED)

    assert [first, *decoded] == generate(Llama(model), prompt, GENERATED + 1)


def greedy_answer(program: ProgramRunner, prompt: list[int], count: int) -> list[int]:
    """`count` greedy tokens after `prompt`, prefilled from position 0."""
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    first = int(program.read("top_indices", np.uint32)[0])
    return [first, *program.decode_greedy(len(prompt), count - 1)]


def test_a_logit_bias_steers_prefill_and_decode_until_zeros_are_written(runner, tmp_path):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(11).integers(0, model.config.vocab_size, 9).tolist()
    compiled = compile_decoder(model, context_length=32, max_prefill_tokens=16)
    assert compiled.buffers["logit_bias"].nbytes == 4 * model.config.vocab_size
    assert compiled.buffers["logit_bias"].tensor is None  # zeros until written
    program = ProgramRunner(runner, compiled, model.tensors)
    unbiased = greedy_answer(program, prompt, GENERATED)
    favoured = next(token for token in range(model.config.vocab_size) if token not in unbiased)
    bias = np.zeros(model.config.vocab_size, np.float32)
    bias[favoured] = 1000.0

    program.write("logit_bias", bias)
    biased = greedy_answer(program, prompt, GENERATED)
    program.write("logit_bias", np.zeros_like(bias))
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})

    assert biased == [favoured] * GENERATED
    check_step(program, Llama(model).forward(prompt, KVCache())[-1])  # unbiased logits again


def test_a_logit_bias_chooses_as_the_reference_generate_does(runner, tmp_path):
    """Every fifth token made likelier: the bias changes the answer, and the model still
    chooses among the favoured tokens."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(11).integers(0, model.config.vocab_size, 9).tolist()
    bias = np.zeros(model.config.vocab_size, np.float32)
    bias[::5] = 10.0
    program = ProgramRunner(
        runner, compile_decoder(model, context_length=32, max_prefill_tokens=16), model.tensors
    )
    program.write("logit_bias", bias)

    answer = greedy_answer(program, prompt, GENERATED)

    assert answer == generate(Llama(model), prompt, GENERATED, logit_bias=bias)
    assert answer != generate(Llama(model), prompt, GENERATED), "the bias changes the answer"
    assert len(set(answer)) > 1


def sampled_answer(
    program: ProgramRunner, prompt: list[int], count: int, sampler: Sampler
) -> list[int]:
    """`count` tokens after `prompt` drawn by the program's sample phase (the browser's
    path) with the random numbers pagemind.models.generate draws for `sampler`."""
    program.write("tokens", np.asarray(prompt, np.uint32))
    program.run("prefill", {"n_tokens": len(prompt), "position": 0})
    random = seeded_random(sampler.seed)
    answer: list[int] = []
    while len(answer) < count:
        if answer:  # embeds the token the last sample phase left in top_indices[0]
            program.run("decode", {"position": len(prompt) + len(answer) - 1})
        variables = {"n_history": len(answer), "random": random()}
        variables |= {key: getattr(sampler, key) for key in SAMPLER_VARIABLES}
        program.run("sample", variables)
        answer.append(int(program.read("top_indices", np.uint32)[0]))
    return answer


SAMPLER_VARIABLES = ("temperature", "top_p", "repetition_penalty", "candidates")
SAMPLED = Sampler(temperature=0.7, top_p=0.95, repetition_penalty=1.1, seed=1, candidates=8)


def test_copy_spans_keep_quoting_in_decode_until_zeros_are_written(runner, tmp_path):
    """Once the answer's first token is in a source, each step continues that text (the
    longest match: the reversed text matches the newest token alone) up to its end; the
    prefill adds nothing (the answer has not started)."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(11).integers(0, model.config.vocab_size, 9).tolist()
    compiled = compile_decoder(model, context_length=32, max_prefill_tokens=16)
    assert compiled.buffers["copy_source"].nbytes == 4 * (2 + MAX_COPY_SOURCE)
    assert compiled.buffers["copy_tail"].nbytes == 4 * (1 + MAX_SPAN_MATCH)
    assert compiled.buffers["copy_source"].tensor is None  # zeros until written
    program = ProgramRunner(runner, compiled, model.tensors)
    unbiased = greedy_answer(program, prompt, GENERATED)
    quote = [token for token in range(model.config.vocab_size) if token not in unbiased][:5]
    spans = CopySpans([unbiased[0], *quote, SPAN_SEPARATOR, *quote[::-1]], 1000.0)

    program.write("copy_source", copy_source_words(spans))
    quoted = greedy_answer(program, prompt, GENERATED)
    program.write("copy_source", np.zeros_like(copy_source_words(spans)))

    assert quoted == [unbiased[0], *quote]
    assert quoted == generate(Llama(model), prompt, GENERATED, copy_spans=spans)
    assert greedy_answer(program, prompt, GENERATED) == unbiased


def random_spans(model: GGUFModel, prompt: list[int], sampler: Sampler) -> CopySpans:
    """Three texts of random ids, each holding the answer's first token, the second an
    opening: a bias that changes the answer while the model still chooses among the
    tokens it favours."""
    first = generate(Llama(model), prompt, 1, sampler)[0]
    source = np.random.default_rng(2).integers(0, model.config.vocab_size, 40).tolist()
    source[5] = source[20] = source[33] = first
    source[12] = source[27] = source[39] = SPAN_SEPARATOR
    source[13] = ANSWER_START
    return CopySpans(source, 15.0)


@pytest.mark.parametrize("sampler", [GREEDY, SAMPLED], ids=["greedy", "sampled"])
def test_copy_spans_choose_as_the_reference_generate_does(runner, tmp_path, sampler):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(11).integers(0, model.config.vocab_size, 9).tolist()
    reference, spans = Llama(model), random_spans(model, prompt, sampler)
    compiled = compile_decoder(model, context_length=32, max_prefill_tokens=16, top_k=8)
    program = ProgramRunner(runner, compiled, model.tensors)
    program.write("copy_source", copy_source_words(spans))
    count = GENERATED + 2

    if sampler.temperature:
        answer = sampled_answer(program, prompt, count, sampler)
    else:
        answer = greedy_answer(program, prompt, count)

    assert answer == generate(reference, prompt, count, sampler, copy_spans=spans)
    assert answer != generate(reference, prompt, count, sampler), "the bias changes the answer"


def test_the_python_program_decoder_adds_the_copy_spans_itself(tmp_path):
    """`pagemind ask` on the GPU: generate() draws from the logits the program biased."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(11).integers(0, model.config.vocab_size, 9).tolist()
    spans = random_spans(model, prompt, SAMPLED)
    decoder = ProgramDecoder(model, np.zeros(model.config.vocab_size, np.float32), spans)

    answer = generate(decoder, prompt, GENERATED, SAMPLED)

    assert answer == generate(Llama(model), prompt, GENERATED, SAMPLED, copy_spans=spans)
    assert answer != generate(Llama(model), prompt, GENERATED, SAMPLED)


def test_copy_source_words_hold_the_count_the_strength_and_the_ids():
    spans = CopySpans([5, 6, SPAN_SEPARATOR] * MAX_COPY_SOURCE, 2.5)
    words = copy_source_words(spans)
    assert words.dtype == np.uint32 and words.size == 2 + MAX_COPY_SOURCE
    assert words[0] == MAX_COPY_SOURCE  # cut as add_copy_span_bias cuts the source
    assert words[1:2].view(np.float32)[0] == 2.5
    assert words[2:].tolist() == spans.source[:MAX_COPY_SOURCE]
    assert not copy_source_words(CopySpans([], 0.0)).any()  # zeros: no copy-span bias


def test_a_prompt_longer_than_the_prefill_limit_is_prefilled_in_chunks(variant_runner, tmp_path):
    """Chunks of at most max_prefill_tokens, each at the position after the last, as the
    browser runs them; the program tells the browser its context length."""
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    prompt = np.random.default_rng(3).integers(0, model.config.vocab_size, 23)
    compiled = compile_decoder(model, context_length=48, max_prefill_tokens=8)
    assert program_to_dict(compiled)["context_length"] == 48
    program = ProgramRunner(variant_runner, compiled, model.tensors)
    for position in range(0, prompt.size, 8):
        chunk = prompt[position : position + 8]
        program.write("tokens", chunk.astype(np.uint32))
        program.run("prefill", {"n_tokens": chunk.size, "position": position})
    check_step(program, Llama(model).forward(prompt.tolist(), KVCache())[-1])


def test_profile_times_every_kernel_of_the_phase(runner, tmp_path):
    if "timestamp-query" not in runner.gpu.features:
        pytest.skip("the adapter has no timestamp queries")
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    program = compile_decoder(model, context_length=16, max_prefill_tokens=4)
    seconds = ProgramRunner(runner, program, model.tensors).profile("decode", {"position": 0})
    assert set(seconds) == {step.kernel for step in program.phases["decode"]}
    assert all(duration > 0 for duration in seconds.values())


def test_contexts_longer_than_the_attention_kernel_holds_are_refused(tmp_path):
    model = read_gguf(tiny_llama_gguf(tmp_path / "tiny.gguf"))
    model.config = dataclasses.replace(model.config, context_length=8192)
    with pytest.raises(ValueError, match="2048 positions"):
        compile_decoder(model, context_length=4096)
