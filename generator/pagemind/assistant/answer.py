"""Answering a question over a site's docs from the terminal, as the panel does in the
browser: retrieve sections, build the prompt (pagemind.assistant.prompt), generate with the
site's generator, either through its compiled program on wgpu (what the browser runs) or
through the numpy reference.

    answerer = Answerer(config, cpu=True)
    answer = answerer.ask("How do I deploy?", on_text=print)
    answer.text, answer.sources
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pagemind.assistant.prompt import NOT_COVERED, build_prompt, context_window
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.bundle import SAMPLING_CANDIDATES, compile_program
from pagemind.config import SiteConfig
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.generate import Sampler, generate
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.llama import KVCache, Llama
from pagemind.models.registry import load_model, resolve_model

TextListener = Callable[[str], None]


@dataclass(frozen=True)
class Answer:
    text: str
    sources: list  # the search hits behind [1], [2]...
    covered: bool  # False: retrieval found nothing relevant, nothing was generated


def prompt_hit(hit) -> dict:
    """What the prompt reads of a search hit (pagemind.search_index.Hit)."""
    return {key: getattr(hit, key) for key in ("url", "heading", "breadcrumb", "text")}


class ProgramDecoder:
    """The site's compiled program on wgpu-py (the browser's executor, in Python), with the
    numpy reference's `forward` so that pagemind.models.generate drives either."""

    def __init__(self, model: GGUFModel) -> None:
        from pagemind.gpu.device import open_device
        from pagemind.gpu.program import ProgramRunner
        from pagemind.gpu.runner import KernelRunner

        program = compile_program(model)
        self.runner = ProgramRunner(KernelRunner(open_device()), program, model.tensors)
        self.rows = program.buffers["tokens"].nbytes // 4
        self.vocab = model.config.vocab_size
        self.position = 0

    def forward(self, tokens: list[int], cache: KVCache) -> np.ndarray:
        """The last position's logits, as a one-row array. The KV cache is the program's,
        on the GPU: a decoder serves one generation."""
        for start in range(0, len(tokens), self.rows):
            chunk = np.asarray(tokens[start : start + self.rows], np.uint32)
            if len(tokens) == 1:  # decode embeds top_indices[0]: the token chosen here
                self.runner.write("top_indices", chunk)
                self.runner.run("decode", {"position": self.position})
            else:
                self.runner.write("tokens", chunk)
                self.runner.run("prefill", {"n_tokens": len(chunk), "position": self.position})
            self.position += len(chunk)
        return self.runner.read("logits")[None, : self.vocab]


class _Streamed:
    """A decoder that tells `on_token` about each token generate() feeds back: every
    token after the prompt was accepted into the answer."""

    def __init__(self, decoder, on_token: Callable[[int], None]) -> None:
        self.decoder = decoder
        self.on_token = on_token
        self.prompted = False

    def forward(self, tokens: list[int], cache: KVCache) -> np.ndarray:
        if self.prompted:
            self.on_token(tokens[0])
        self.prompted = True
        return self.decoder.forward(tokens, cache)


class Answerer:
    """The site's generator, loaded once, answering questions over retrieved sections."""

    def __init__(self, config: SiteConfig, *, cpu: bool, max_new_tokens: int | None = None):
        self.config = config
        self.settings = dataclasses.asdict(config.assistant)
        if max_new_tokens is not None:
            self.settings["max_new_tokens"] = max_new_tokens
        source = resolve_model(
            config.assistant.model,
            "generator",
            config.root,
            file=config.config_file,
            key="assistant.model",
        )
        self.model = load_model(source)
        self.tokenizer = PromptTokenizer(self.model.tokenizer_spec)
        program = program_to_dict(compile_program(self.model))
        self.window = context_window(program, dataclasses.asdict(self.model.config))
        self.cpu = cpu
        self.reference = Llama(self.model) if cpu else None  # dequantized once

    def ask(
        self, question: str, hits: Sequence[Mapping], relevant: bool, on_text: TextListener
    ) -> Answer:
        """The answer to `question` from `hits` (best first); `on_text` hears it grow."""
        if not relevant:
            on_text(NOT_COVERED)
            return Answer(NOT_COVERED, [], covered=False)
        prompt = build_prompt(
            settings=self.settings,
            chat=self.model.chat,
            tokenizer=self.tokenizer,
            window=self.window,
            hits=hits,
            history=[],
            question=question,
        )
        decoder = self.reference if self.cpu else ProgramDecoder(self.model)
        ids = self.tokenizer.encode(prompt.text)
        text = self._generate(decoder, ids, prompt.answer_tokens, on_text)
        return Answer(text, list(prompt.sources), covered=True)

    def _generate(self, decoder, prompt_ids: list[int], max_tokens: int, on_text) -> str:
        """Sampled as the browser samples (pagemind.models.generate), streamed as text."""
        settings = self.settings
        sampler = Sampler(
            temperature=settings["temperature"],
            top_p=settings["top_p"],
            repetition_penalty=settings["repetition_penalty"],
            candidates=SAMPLING_CANDIDATES,  # as the browser draws, among the program's top_k
        )
        answer: list[int] = []
        shown = ""

        def on_token(token: int) -> None:
            nonlocal shown
            answer.append(token)
            text = self.tokenizer.decode(answer)
            if not text.endswith("\ufffd"):  # wait for the rest of a character
                on_text(text[len(shown) :])
                shown = text

        streamed = _Streamed(decoder, on_token)
        tokens = generate(streamed, prompt_ids, max_tokens, sampler, self.model.chat["stop_ids"])
        text = self.tokenizer.decode(tokens)
        on_text(text[len(shown) :])  # the last token is never fed back
        return text.strip()
