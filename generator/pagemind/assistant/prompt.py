"""The assistant's prompt: system prompt, few-shot examples, the retrieved sections numbered
[1], [2]... best first, the conversation so far and the question, rendered with the model's
chat pieces (pagemind.models.chat_template). runtime/prompt.js assembles the very same text
in the browser (tests/assistant/test_prompt_parity.py holds them together).

The sections are quoted in reverse, the best one last, next to the question: a small model
copies most from what it read last. On bench/eval_answers.py's sites (MkDocs, HTTPX,
pagemind), at 300 tokens, answers held their key facts in 0.79 / 0.62 / 0.62 of the
questions against 0.75 / 0.46 / 0.58 with the best section first (--answers), with no
invented code shown either way. The numbers stay the sections' ranks: [1] is the best.

Budgets, in the generator's tokens:
- the whole prompt leaves `max_new_tokens` of the model's context window for the answer;
- the sections take at most `context_tokens`. When they do not all fit whole, each one
  that needs more than its share is condensed to the units (sentences, list items, code
  blocks) that fit its share, best first as the passage takes them, in the docs' order:
  a long section's answer is often past where its start would be cut. The shares: the
  sections that need less take what they need, the others split the rest, the best one
  counting twice; sections that would be left less than MIN_SECTION_TOKENS are left out,
  the last first. On bench/eval_answers.py's sites (MkDocs, HTTPX, pagemind), at 400
  tokens, the prompt held every key fact for 0.92 / 0.83 / 0.96 of the questions. More
  tokens hold more facts, but a small model copies the right sentence less often from a
  prompt that holds much else. Answers holding their key facts, of the 72 questions, at
  300, 400 and 500 tokens: 49, 50 and 49 (at 400: 0.83 / 0.71 / 0.54). The default is
  400 (with the best section quoted first, 300 did best);
- earlier turns fill what is left, newest first; older ones are dropped;
- the examples are left out when even they do not fit, and a question too long for the
  window is cut; in a window too small for even the system prompt and the question, the
  answer gets fewer tokens: prompt and answer never overflow the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pagemind.assistant.sentences import Unit, join_units
from pagemind.models.chat_template import assemble

NOT_COVERED = "The docs do not cover this. Try other words, or look through the search results."
# Measured on the MkDocs questions (bench/eval_answers.py --answers): asked to cite "[1]",
# SmolLM2-135M writes citations instead of answers; asked only to answer, it answers. The
# sections keep their [n] headers, so citations it writes still link to them.
ANSWER_RULE = "Answer this question using the documentation above."
# The prompt's own labels: a model that writes one has finished its answer and goes on to
# restate the question or the documentation.
STOP_STRINGS = ("\nQuestion:", "\nDocumentation:")
# A condensed section keeps at least this many tokens, or it is left out.
MIN_SECTION_TOKENS = 24
# When the sections do not all fit, the best one's share of what is left, against one for
# each other section: the prompt held the key facts of as many questions at 3, and of
# fewer at 1 (pagemind's: 0.83, 0.79) or with the best section alone (0.71).
FIRST_SECTION_WEIGHT = 2
# Rounds of re-fitting when joined parts tokenize longer than their parts counted alone.
_FIT_ROUNDS = 8


class PromptTokenizer(Protocol):
    bos_id: int | None  # the token the model reads before the text, when it wants one

    def count(self, text: str) -> int: ...

    def truncate(self, text: str, tokens: int) -> str: ...

    def plain(self, text: str) -> str:
        """`text` without the model's special tokens: a document or a reader's question
        must not be able to open a turn of its own."""
        ...


@dataclass(frozen=True)
class Prompt:
    text: str
    sources: list[Mapping]  # the hits behind [1], [2]... in order
    excerpts: list[str]  # what the prompt quotes of each: its text, or condensed
    turns_kept: int  # earlier question/answer pairs that fitted
    answer_tokens: int  # what the window leaves for the answer, at most max_new_tokens


def context_window(program: Mapping, config: Mapping) -> int:
    """Positions the decoder program's KV cache holds (program JSON, manifest config)."""
    if "context_length" in program:
        return program["context_length"]
    row = 4 * config["num_kv_heads"] * config["head_dim"]
    caches = [
        spec["bytes"] for name, spec in program["buffers"].items() if name.endswith("k_cache")
    ]
    return min(caches) // row


def cut_question(question: str, window: int) -> str:
    """The question cut to as many characters as the model's window holds tokens, before
    it is searched or tokenized: a token seldom spans less than a character, so what is cut
    off could not have reached the prompt with room left for the docs (runtime/panel.js
    cuts the same way)."""
    return question[:window]


def retrieval_query(history: Sequence[Mapping], question: str) -> str:
    """A follow-up is searched together with the question before it ("and on Windows?")."""
    earlier = [turn["content"] for turn in history if turn["role"] == "user"]
    return f"{earlier[-1]} {question}" if earlier else question


def build_prompt(
    *,
    settings: Mapping,
    chat: Mapping,
    tokenizer: PromptTokenizer,
    window: int,
    hits: Sequence[Mapping],
    history: Sequence[Mapping],
    question: str,
) -> Prompt:
    """The prompt for `question` (history: {"role", "content"} turns, oldest first)."""
    question = tokenizer.plain(question)
    history = [{**turn, "content": tokenizer.plain(turn["content"])} for turn in history]
    available = window - settings["max_new_tokens"]
    target = available
    for _ in range(_FIT_ROUNDS):
        text, excerpts, sources, turns_kept = _fit(
            settings, chat, tokenizer, target, hits, history, question
        )
        used = tokenizer.count(text) + (tokenizer.bos_id is not None)
        if used <= available:
            break
        target -= used - available
    answer_tokens = min(settings["max_new_tokens"], window - used)
    return Prompt(text, sources, excerpts, turns_kept, answer_tokens)


def _fit(settings, chat, tokenizer, available, hits, history, question):
    def cost(role: str, content: str) -> int:
        return tokenizer.count(_message(chat, role, content))

    system = settings["system_prompt"]
    fixed = cost("system", system) + tokenizer.count(chat["generation_prompt"])
    fixed += cost("user", _with_excerpts("", question))
    if fixed > available:  # a question longer than the window: keep its start
        keep = max(1, tokenizer.count(question) - (fixed - available))
        question = tokenizer.truncate(question, keep)
        fixed = available
    examples = [turn for e in settings["examples"] for turn in _example_turns(e)]
    examples_cost = sum(cost(turn["role"], turn["content"]) for turn in examples)
    if fixed + examples_cost > available:
        examples, examples_cost = [], 0
    room = available - fixed - examples_cost
    excerpts = _fit_sections(tokenizer, hits, min(settings["context_tokens"], room))
    blocks = [
        _section_block(place, _title(tokenizer, hit), text)
        for place, (hit, text) in enumerate(zip(hits, excerpts, strict=False))
    ]
    sections = "".join(reversed(blocks))  # the best last (see the module docstring)
    room -= tokenizer.count(sections)
    kept = _fit_history(history, room, cost)
    messages = [
        {"role": "system", "content": system},
        *examples,
        *kept,
        {"role": "user", "content": _question_message(sections, question)},
    ]
    return assemble(chat, messages), excerpts, list(hits[: len(excerpts)]), len(kept) // 2


def _fit_sections(tokenizer: PromptTokenizer, hits: Sequence[Mapping], budget: int) -> list[str]:
    """What the prompt quotes of the most sections, best first, whose shares of `budget`
    each hold them whole or condensed to at least MIN_SECTION_TOKENS."""
    titles = [_title(tokenizer, hit) for hit in hits]
    texts = [tokenizer.plain(hit["text"]).strip(" \t\n\r") for hit in hits]
    costs = [
        tokenizer.count(_section_block(place, title, text))
        for place, (title, text) in enumerate(zip(titles, texts, strict=True))
    ]
    for kept in range(len(hits), 0, -1):
        excerpts: list[str] = []
        for place, share in enumerate(_shares(costs[:kept], budget)):
            text = texts[place]
            if costs[place] > share:
                room = share - tokenizer.count(_section_block(place, titles[place], ""))
                if room < MIN_SECTION_TOKENS:
                    break
                text = _condensed(tokenizer, hits[place], room)
            excerpts.append(text)
        else:
            return excerpts
    return []


def _title(tokenizer: PromptTokenizer, hit: Mapping) -> str:
    return tokenizer.plain(hit.get("breadcrumb") or hit["heading"])


def _section_block(place: int, title: str, text: str) -> str:
    return f"[{place + 1}] {title}\n{text}\n\n"


def _shares(costs: list[int], budget: int) -> list[int]:
    """Each section's tokens: what it needs when all fit; otherwise the sections that need
    less than their share take what they need, and the rest split what is left, the best
    section counting FIRST_SECTION_WEIGHT times."""
    weights = [FIRST_SECTION_WEIGHT if i == 0 else 1 for i in range(len(costs))]
    shares = list(costs)
    left = set(range(len(costs)))
    while left:
        total = sum(weights[i] for i in left)
        fair = {i: budget * weights[i] / total for i in left}
        fitting = {i for i in left if costs[i] <= fair[i]}
        if not fitting:
            for i in left:
                shares[i] = int(fair[i])
            break
        budget -= sum(costs[i] for i in fitting)
        left -= fitting
    return shares


def _condensed(tokenizer: PromptTokenizer, hit: Mapping, room: int) -> str:
    """The section's units that fit in `room` tokens, taken in its quote order (the best
    first, pagemind.assistant.passage.quote_order) and read in the docs' order; when not
    even the best fits, its start."""
    units = hit["units"]
    chosen: list[int] = []
    for group in hit["quote_order"]:
        trial = sorted({*chosen, *group})
        if tokenizer.count(_joined(tokenizer, units, trial)) <= room:
            chosen = trial
    if chosen:
        return _joined(tokenizer, units, chosen)
    best = _joined(tokenizer, units, hit["quote_order"][0]) if units else ""
    return f"{tokenizer.truncate(best, room - 2)} …" if best else ""


def _joined(tokenizer: PromptTokenizer, units: Sequence[Unit], places: Sequence[int]) -> str:
    return tokenizer.plain(join_units([units[i] for i in sorted(places)]))


def _fit_history(history: Sequence[Mapping], room: int, cost) -> list[dict]:
    """The latest whole question/answer pairs that fit in `room` tokens."""
    pairs = [list(history[i : i + 2]) for i in range(len(history) % 2, len(history), 2)]
    kept: list[dict] = []
    for pair in reversed(pairs):
        spent = sum(cost(turn["role"], turn["content"]) for turn in pair)
        if spent > room:
            break
        kept = pair + kept
        room -= spent
    return kept


def _example_turns(example: Mapping) -> list[dict]:
    return [
        {"role": "user", "content": example["question"]},
        {"role": "assistant", "content": example["answer"]},
    ]


def _question_message(sections: str, question: str) -> str:
    return _with_excerpts(sections, question) if sections else question


def _with_excerpts(sections: str, question: str) -> str:
    return f"Documentation:\n\n{sections}{ANSWER_RULE}\nQuestion: {question}"


def _message(chat: Mapping, role: str, content: str) -> str:
    return chat[f"{role}_prefix"] + content + chat[f"{role}_suffix"]
