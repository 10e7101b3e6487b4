"""Copy-biased decoding: the tokens of the quoted sections and the question get a logit
bonus (the `logit_bias` program buffer, pagemind.models.generate's `logit_bias`), so the
model prefers the docs' own words, names and commands to ones it would make up; and once
the answer has started to quote a section, the tokens that go on quoting it get another
(copy spans: the `copy_source` buffer, pagemind.models.generate.add_copy_span_bias), so a
name or a command comes out whole, as the docs write it, not stitched from look-alikes.
The copy spans also hold the answer's openings (answer_openings): the units of the best
sections that the passage would quote first, which the answer is pushed to start with.
runtime/copy_bias.js lists the same tokens, sources and openings (parity-tested).

The texts are what the prompt quotes (pagemind.assistant.prompt's excerpts), not the parts of
a condensed section it leaves out: on bench/eval_answers.py's sites (MkDocs, HTTPX,
pagemind) the model's raw answers held 0 / 10 / 3 code spans found in no source, against
2 / 20 / 3 with the whole sections' tokens, and 37 of 501 sentences were held back against
53 of 491; the answers held their key facts in 0.54 / 0.33 / 0.54 of the questions against
0.54 / 0.42 / 0.50, one question fewer of 72.

Openings: left to itself, the model starts with whichever sentence of the prompt it likes,
often not the one that answers. Pushed to start with the units the passage ranks best (two
of each of the first two sections), the answers held their key facts in 0.75 / 0.50 / 0.62
of the questions against 0.71 / 0.46 / 0.54 (bench/eval_answers.py --answers); with three
units of each, 0.75 / 0.50 / 0.54. It is a push, not a rule: the model may start elsewhere,
and whatever it writes is judged the same.

The tokens are those of each text as the model reads it, and of each of its words, without
the quotes, brackets and punctuation around it, after a space, as an answer would write them
("`gh-deploy`." in a source; " gh-deploy" in an answer); the stop tokens are kept so that
ending the answer stays as likely as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from pagemind.assistant.evidence import Evidence
from pagemind.assistant.passage import quote_order
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.models.generate import ANSWER_START, MAX_COPY_SOURCE, SPAN_SEPARATOR

WORD_EDGES = "`'\"()[]{}<>,.;:!?*"
OPENING_SECTIONS = 2  # the first sections the prompt quotes that give the answer openings
OPENING_UNITS = 2  # the units each of them gives, best first


def copy_bias_tokens(
    tokenizer: PromptTokenizer, texts: Sequence[str], keep: Iterable[int]
) -> list[int]:
    """The biased token ids, sorted."""
    ids = set(keep)
    for text in texts:
        ids.update(tokenizer.ids(text))
        for word in {word.strip(WORD_EDGES) for word in text.split()} - {""}:
            ids.update(tokenizer.ids(" " + word))
    return sorted(ids)


def dense_bias(tokens: Sequence[int], strength: float, vocab_size: int) -> np.ndarray:
    """The `logit_bias` buffer's values: `strength` at each token, 0 elsewhere."""
    bias = np.zeros(vocab_size, np.float32)
    bias[list(tokens)] = strength
    return bias


def answer_openings(evidence: Evidence, places: Sequence[int]) -> list[str]:
    """The units an answer is pushed to start with: of each of the first OPENING_SECTIONS
    sections the prompt quotes (`places` in the evidence), the OPENING_UNITS the passage
    would quote first, each read from its start (a code block from the sentence that
    introduces it, a definition from its term), best first, each once."""
    openings: list[str] = []
    for place in places[:OPENING_SECTIONS]:
        units = evidence.units_of(place)
        for group in quote_order(units)[:OPENING_UNITS]:
            text = units[min(group)].unit.text
            if text not in openings:
                openings.append(text)
    return openings


def copy_span_source(
    tokenizer: PromptTokenizer, texts: Sequence[str], openings: Sequence[str] = ()
) -> list[int]:
    """CopySpans.source for these texts and openings: each opening's ids after ANSWER_START,
    then each text's, a separator after each, at most MAX_COPY_SOURCE ids in all (the
    openings first, so that a cut never drops them). The sources only: copying the
    question's phrases would make the answer restate it."""
    ids: list[int] = []
    for opening in openings:
        ids += [ANSWER_START, *tokenizer.ids(opening), SPAN_SEPARATOR]
    for text in texts:
        ids += [*tokenizer.ids(text), SPAN_SEPARATOR]
    return ids[:MAX_COPY_SOURCE]
