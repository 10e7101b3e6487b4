"""Whether the sources support a unit of an answer: its content words found in a source (or
the question), its code found verbatim. runtime/support.js decides the same (parity-tested).

- Content words: the keyword terms (pagemind.search_index.keywords: lower case, stop words
  out, plurals folded) of two letters or more, less FUNCTION_WORDS, which carry no claim.
  A word is found in a text when the text has it, a word it begins or that begins it
  (4 letters at least: "build", "building"), or one with the same first 6 letters
  ("configure", "configuration").
- Code: inline `code`, each line of a code block, and words shaped like code outside
  backticks (a flag "--strict", "file.yml", "snake_case", "a/path", "key=value", "call()",
  "camelCase"): each must appear verbatim, white space aside, in some source, and whole
  (not as a part of a longer name or number: "0.0.1:8000" is not in "127.0.0.1:8000").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pagemind.assistant.sentences import FENCE, Unit
from pagemind.search_index.keywords import keyword_terms

FUNCTION_WORDS = frozenset({
    "about", "above", "after", "again", "all", "also", "any", "been", "before", "being",
    "below", "both", "could", "each", "eg", "etc", "following", "had", "has", "have",
    "having", "here", "ie", "just", "may", "might", "more", "most", "must", "only", "other",
    "our", "own", "same", "shall", "should", "some", "such", "sure", "too", "very", "were",
    "yes", "yet",
    # Words about the prompt itself ("The documentation above provides..."): no claim.
    "answer", "doc", "documentation", "information", "mentioned", "provided", "question",
})  # fmt: skip
MATCH_PREFIX = 6  # letters two words share to count as one ("configure", "configuration")
MIN_PREFIX = 4  # the shortest word that matches the words it begins
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_WORD_EDGES = "[]{}<>,;:!?\"'*\u201c\u201d\u2018\u2019"  # and typographic quotes
_CODE_SHAPED = re.compile(
    r"^--?[A-Za-z]"  # a command-line flag
    r"|[A-Za-z0-9][._/\\=:][A-Za-z0-9_]"  # file.ext, a.module, a/path, key=value, a::b
    r"|_|\(\)|[a-z][A-Z]"  # snake_case, a call(), camelCase
)
_WORD_CHARACTER = re.compile(r"[A-Za-z0-9_]")
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_-]")
_DIGIT = re.compile(r"[0-9]")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "e.g.", "i.e.", "etc.", "vs."})


def content_words(text: str) -> list[str]:
    return [w for w in keyword_terms(text) if len(w) > 1 and w not in FUNCTION_WORDS]


def code_spans(unit: Unit) -> list[str]:
    """The code of a unit that a source must hold verbatim, white space collapsed: a code
    block's lines, or a sentence's inline code and code-shaped words."""
    if unit.kind == "code":
        spans = unit.text.split("\n")[1:]  # after the opening fence, to the closing one
        if spans and FENCE.match(spans[-1]):
            spans.pop()
    else:
        spans = _INLINE_CODE.findall(unit.text)
        for word in map(_trimmed, _INLINE_CODE.sub(" ", unit.text).split()):
            if word not in _ABBREVIATIONS and _CODE_SHAPED.search(word):
                spans.append(word)
    return [collapsed for span in spans if (collapsed := _collapse(span))]


class SourceText:
    """One source's text, ready for the checks."""

    def __init__(self, text: str) -> None:
        self.text = _collapse(text)
        self.words = set(content_words(text))
        self.prefixes = {word[:end] for word in self.words for end in range(MIN_PREFIX, len(word))}
        self.stems = {word[:MATCH_PREFIX] for word in self.words if len(word) >= MATCH_PREFIX}

    def has_word(self, word: str) -> bool:
        if word in self.words or (len(word) >= MIN_PREFIX and word in self.prefixes):
            return True
        if len(word) >= MATCH_PREFIX and word[:MATCH_PREFIX] in self.stems:
            return True
        return any(word[:end] in self.words for end in range(MIN_PREFIX, len(word)))

    def has_code(self, span: str) -> bool:
        """`span` appears whole: not inside a longer name or number ("127.0.0.1:80" and
        "0.0.1:8000" are not in "127.0.0.1:8000")."""
        start = self.text.find(span)
        while start >= 0:
            end = start + len(span)
            before = not _joins(span[0], self.text[max(start - 2, 0) : start][::-1])
            after = not _joins(span[-1], self.text[end : end + 2])
            if before and after:
                return True
            start = self.text.find(span, start + 1)
        return False


@dataclass(frozen=True)
class Support:
    found: int  # content words the source (or the question) has
    novel: int  # of them, words the source has and the question does not
    words: int  # content words of the unit


def support(words: Iterable[str], source: SourceText, question: SourceText) -> Support:
    words = list(words)
    in_source = [source.has_word(word) for word in words]
    in_question = [question.has_word(word) for word in words]
    found = sum(s or q for s, q in zip(in_source, in_question, strict=True))
    novel = sum(s and not q for s, q in zip(in_source, in_question, strict=True))
    return Support(found, novel, len(words))


def _joins(edge: str, outward: str) -> bool:
    """Whether the name or number that `edge` ends goes on in the next two characters, read
    outward: "gh-deploy" in "gh-deploy-all", "0.0.1" in "127.0.0.1" and "1.2" in "1.2.3" (a
    dot between digits), not "serve" in "serve. Then" nor "os.path" in "os.path.join"."""
    if not (_WORD_CHARACTER.match(edge) and outward):
        return False
    if _NAME_CHARACTER.match(outward[0]):
        return True
    return outward[0] == "." and all(_DIGIT.fullmatch(c) for c in (edge, outward[1:2]))


def _trimmed(word: str) -> str:
    """A word without the punctuation around it; a call's "()" stays."""
    while True:
        trimmed = word.strip(_WORD_EDGES).rstrip(".")
        trimmed = trimmed.removeprefix("(")
        if trimmed.endswith(")") and not trimmed.endswith("()"):
            trimmed = trimmed[:-1]
        if trimmed == word:
            return word
        word = trimmed


def _collapse(text: str) -> str:
    return " ".join(text.split())
