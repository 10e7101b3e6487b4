"""Answering a question over a site's docs from the terminal, as the panel does in the
browser: the evidence (pagemind.assistant.evidence), the passage (passage.py), the prompt
(prompt.py), generation biased toward the sources' words (copy_bias.py) with the site's
generator, either through its compiled program on wgpu (what the browser runs) or through
the numpy reference, and every unit of the answer checked and cited (attribution.py).

    evidence = find_evidence(index, "How do I deploy?")
    answerer = Answerer(config, cpu=True)
    answer = answerer.ask("How do I deploy?", evidence, listener)   # listener: optional
    answer.passage, answer.text, answer.claims, answer.sources
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pagemind.assistant.attribution import Attributor, Claim, cited_text
from pagemind.assistant.copy_bias import (
    answer_openings,
    copy_bias_tokens,
    copy_span_source,
    dense_bias,
)
from pagemind.assistant.evidence import Evidence
from pagemind.assistant.passage import Passage, best_passage, quote_order
from pagemind.assistant.prompt import NOT_COVERED, STOP_STRINGS, build_prompt, context_window
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.config import SiteConfig
from pagemind.gpu.compile_model import SAMPLING_CANDIDATES, compile_program
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.generate import CopySpans, Sampler, generate
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.llama import KVCache, Llama
from pagemind.models.registry import load_model, resolve_model
from pagemind.search_index import Hit


class Listener:
    """Hears an answer as the panel shows it: the passage before any generation, then each
    unit of the answer as soon as it is complete and judged."""

    def passage(self, passage: Passage) -> None:
        pass

    def claim(self, claim: Claim) -> None:
        pass


@dataclass(frozen=True)
class Answer:
    passage: Passage | None  # the docs' own words; None when nothing relevant was found
    text: str  # what the reader is shown: the supported claims, cited
    claims: list[Claim]  # every unit the model wrote, shown or held back
    sources: list[Hit]  # the sections behind [1], [2]...
    covered: bool  # False: retrieval found nothing relevant, nothing was generated
    cut_off: bool = False  # the answer reached its token limit; its last unit is not shown


def prompt_hit(evidence: Evidence, place: int) -> dict:
    """What the prompt reads of the evidence's section at `place`: its text, and its units
    in the order a condensed section takes them."""
    hit = evidence.sections[place]
    units = evidence.units_of(place)
    return {
        **{key: getattr(hit, key) for key in ("url", "heading", "breadcrumb", "text")},
        "units": [scored.unit for scored in units],
        "quote_order": quote_order(units),
    }


class ProgramDecoder:
    """The site's compiled program on wgpu-py (the browser's executor, in Python), with the
    numpy reference's `forward` so that pagemind.models.generate drives either."""

    def __init__(
        self, model: GGUFModel, logit_bias: np.ndarray, copy_spans: CopySpans | None = None
    ) -> None:
        from pagemind.gpu.device import open_device
        from pagemind.gpu.program import ProgramRunner, copy_source_words
        from pagemind.gpu.runner import KernelRunner

        program = compile_program(model)
        self.runner = ProgramRunner(KernelRunner(open_device()), program, model.tensors)
        # The program adds both to the logits: generate() must not add them again.
        self.runner.write("logit_bias", logit_bias)
        if copy_spans is not None:
            self.runner.write("copy_source", copy_source_words(copy_spans))
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
    """The site's generator, loaded once, answering questions from their evidence."""

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

    def ask(self, question: str, evidence: Evidence, listener: Listener | None = None) -> Answer:
        """The answer to `question` from its evidence."""
        listener = listener or Listener()
        if not evidence.covers:
            return Answer(None, NOT_COVERED, [], [], covered=False)
        passage = best_passage(evidence)
        if passage:
            listener.passage(passage)
        places = evidence.prompt_places(self.settings["top_k"])
        hits = [prompt_hit(evidence, place) for place in places]
        prompt = build_prompt(
            settings=self.settings,
            chat=self.model.chat,
            tokenizer=self.tokenizer,
            window=self.window,
            hits=hits,
            history=[],
            question=question,
        )
        sources = [evidence.sections[place] for place in places[: len(prompt.sources)]]
        attributor = Attributor([hit.text for hit in sources], question)
        bias = self._bias(prompt.excerpts, question)
        spans = self._copy_spans(prompt.excerpts, answer_openings(evidence, places[: len(sources)]))
        raw, ended = self._generate(
            prompt.text, prompt.answer_tokens, bias, spans, attributor, listener
        )
        claims = attributor.claims(raw, final=ended)
        return Answer(passage, cited_text(claims), claims, sources, covered=True, cut_off=not ended)

    def _bias(self, excerpts: list[str], question: str) -> np.ndarray:
        texts = [*excerpts, question]
        tokens = copy_bias_tokens(self.tokenizer, texts, self.model.chat["stop_ids"])
        return dense_bias(tokens, self.settings["copy_bias"], self.model.config.vocab_size)

    def _copy_spans(self, excerpts: list[str], openings: list[str]) -> CopySpans:
        return CopySpans(
            copy_span_source(self.tokenizer, excerpts, openings), self.settings["copy_span_bias"]
        )

    def _generate(
        self,
        prompt: str,
        max_tokens: int,
        bias: np.ndarray,
        spans: CopySpans,
        attributor: Attributor,
        listener: Listener,
    ) -> tuple[str, bool]:
        """The answer, sampled as the browser samples (pagemind.models.generate), and whether
        the model ended it (not the token limit). Each unit is judged as it completes; the
        last one only if the model ended it: a sentence cut off is never shown."""
        settings = self.settings
        sampler = Sampler(
            temperature=settings["temperature"],
            top_p=settings["top_p"],
            repetition_penalty=settings["repetition_penalty"],
            candidates=SAMPLING_CANDIDATES,  # as the browser draws, among the program's top_k
        )
        answer: list[int] = []
        heard = 0

        def on_token(token: int) -> None:
            nonlocal heard
            answer.append(token)
            claims = attributor.claims(self.tokenizer.decode(answer), final=False)
            for claim in claims[heard:]:
                listener.claim(claim)
            heard = len(claims)

        def stop_at(tokens: list[int]) -> bool:
            text = self.tokenizer.decode(tokens)
            return any(stop in text for stop in STOP_STRINGS)

        decoder = self.reference if self.cpu else ProgramDecoder(self.model, bias, spans)
        tokens = generate(
            _Streamed(decoder, on_token),
            self.tokenizer.encode(prompt),
            max_tokens,
            sampler,
            self.model.chat["stop_ids"],
            logit_bias=bias if self.cpu else None,  # the program adds its own copies
            stop_at=stop_at,
            copy_spans=spans if self.cpu else None,
        )
        text, ended = self.tokenizer.decode(tokens), len(tokens) < max_tokens
        for claim in attributor.claims(text, final=ended)[heard:]:
            listener.claim(claim)
        return text.strip(), ended
