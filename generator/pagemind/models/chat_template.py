"""The model's own chat template, cut into pieces the browser concatenates.

The template (Jinja2, from the GGUF's tokenizer.chat_template) is rendered at build
time with sentinel contents; the text around each sentinel becomes a role's prefix
and suffix. The pieces are then checked by rebuilding a two-turn conversation and
comparing it with the template's own rendering, so a template the pieces cannot
express fails the build instead of prompting the model wrongly.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pagemind.errors import PagemindError

ROLES = ("system", "user", "assistant")
_SENTINEL = "\x00{role}-content\x00"


class ChatTemplateError(ValueError):
    """The template cannot be rendered, or cannot be cut into per-role pieces."""


def render(template: str, messages: list[dict], *, bos: str, eos: str, generate: bool) -> str:
    """The template's text for `messages`, as Hugging Face's apply_chat_template renders it."""
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = lambda pattern: datetime.now().strftime(pattern)
    try:
        return environment.from_string(template).render(
            messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=generate
        )
    except TemplateError as error:
        raise ChatTemplateError(str(error)) from error


def chat_pieces(template: str, bos: str, eos: str) -> dict:
    """Role prefixes and suffixes, the generation prompt and the stop strings.

    A prompt is system_prefix + system + system_suffix, then for each turn
    <role>_prefix + content + <role>_suffix, then generation_prompt. Where the template
    writes the system message at the start of the first user turn (Gemma's), the pieces say
    `system_into_first_user`: the system's prefix opens that turn, its suffix separates the
    two messages, and the user message that follows goes without its own prefix.
    """
    try:
        pieces = _turn_pieces(template, bos, eos)
    except ChatTemplateError as error:
        try:
            pieces = _folded_system_pieces(template, bos, eos)
        except ChatTemplateError:
            raise error from None
    turns = [_turn(role) for role in ROLES]
    prompt = render(template, turns[:2], bos=bos, eos=eos, generate=True)
    pieces["generation_prompt"] = prompt.removeprefix(
        render(template, turns[:2], bos=bos, eos=eos, generate=False)
    )
    pieces["stop_strings"] = sorted({eos, pieces["assistant_suffix"].strip()} - {""})
    _check_pieces(template, pieces, bos=bos, eos=eos)
    return pieces


def _turn_pieces(template: str, bos: str, eos: str) -> dict:
    """Each role's prefix and suffix, from the text each turn adds to the ones before it."""
    return _added_pieces(template, [_turn(role) for role in ROLES], bos, eos)


def _folded_system_pieces(template: str, bos: str, eos: str) -> dict:
    """The pieces of a template that writes the system message inside the first user turn:
    user and assistant as _turn_pieces cuts them from a conversation without a system
    message (the user's from its second turn), the system's around its message there."""
    turns = [_turn("user", "first"), _turn("assistant"), _turn("user")]
    pieces = _added_pieces(template, turns, bos, eos)
    system, user = _turn("system"), turns[0]
    text = render(template, [system, user], bos=bos, eos=eos, generate=False)
    prefix, _, rest = text.partition(system["content"])
    separator, found, suffix = rest.partition(user["content"])
    if not found or suffix != pieces["user_suffix"]:
        raise ChatTemplateError("the system message is neither a turn nor in the first user turn")
    pieces.update(system_prefix=prefix, system_suffix=separator, system_into_first_user=True)
    return pieces


def _added_pieces(template: str, turns: list[dict], bos: str, eos: str) -> dict:
    """The text around each turn's content in what that turn adds to the conversation (the
    last turn of a role wins)."""
    pieces: dict[str, Any] = {}
    previous = ""
    for count, turn in enumerate(turns, start=1):
        text = render(template, turns[:count], bos=bos, eos=eos, generate=False)
        if not text.startswith(previous):
            raise ChatTemplateError(f"adding a {turn['role']} turn changes the text before it")
        prefix, found, suffix = text[len(previous) :].partition(turn["content"])
        if not found:
            raise ChatTemplateError(f"the template drops the {turn['role']} message")
        pieces[f"{turn['role']}_prefix"], pieces[f"{turn['role']}_suffix"] = prefix, suffix
        previous = text
    return pieces


def _turn(role: str, tag: str = "") -> dict:
    return {"role": role, "content": _SENTINEL.format(role=role + tag)}


def assemble(pieces: dict, messages: list[dict]) -> str:
    """A prompt from the pieces: what the browser does with them."""
    text = ""
    for index, message in enumerate(messages):
        role = message["role"]
        folded = index > 0 and messages[index - 1]["role"] == "system"
        prefix = "" if folded and pieces.get("system_into_first_user") else pieces[f"{role}_prefix"]
        text += prefix + message["content"] + pieces[f"{role}_suffix"]
    return text + pieces["generation_prompt"]


def template_pieces(template: str, bos: str, eos: str, source: Path) -> dict:
    """chat_pieces for a model file: failures become a PagemindError naming the file."""
    try:
        return chat_pieces(template, bos, eos)
    except ChatTemplateError as error:
        raise PagemindError(
            f"the chat template cannot be used: {error}",
            file=source,
            key="tokenizer.chat_template",
            fix="use a model whose chat template puts each message between fixed role markers",
        ) from error


def _check_pieces(template: str, pieces: dict, *, bos: str, eos: str) -> None:
    conversation = [
        {"role": "system", "content": "You answer from the docs."},
        {"role": "user", "content": "How do I build?"},
        {"role": "assistant", "content": "Run `pagemind build`."},
        {"role": "user", "content": "And serve?"},
    ]
    expected = render(template, conversation, bos=bos, eos=eos, generate=True)
    if assemble(pieces, conversation) != expected:
        raise ChatTemplateError("a two-turn conversation built from the pieces differs")


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(message)


def _tojson(value: object, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)
