// Whether the sources support a unit of an answer: its content words found in a source (or
// the question), its code found verbatim. The same as pagemind.assistant.support in Python
// (parity-tested; its docstring gives the rules). `grounding` is the assistant file's
// "grounding" object with `stopwords`, the index's, added as a Set.

import { keywordTerms } from "./retrieval.js";
import { FENCE } from "./sentences.js";

const INLINE_CODE = /`([^`\n]+)`/g;
const WORD_EDGES = "[]{}<>,;:!?\"'*\u201c\u201d\u2018\u2019";
const CODE_SHAPED = /^--?[A-Za-z]|[A-Za-z0-9][._/\\=:][A-Za-z0-9_]|_|\(\)|[a-z][A-Z]/;
const WORD_CHARACTER = /^[A-Za-z0-9_]$/;
const NAME_CHARACTER = /^[A-Za-z0-9_-]$/;
const DIGIT = /^[0-9]$/;
const ABBREVIATIONS = new Set(["e.g", "i.e", "e.g.", "i.e.", "etc.", "vs."]);

export function contentWords(text, grounding) {
  const functionWords = new Set(grounding.function_words);
  return keywordTerms(text, grounding.stopwords).filter(
    (word) => [...word].length > 1 && !functionWords.has(word),
  );
}

// The code of a unit that a source must hold verbatim, white space collapsed.
export function codeSpans(unit) {
  let spans;
  if (unit.kind === "code") {
    spans = unit.text.split("\n").slice(1); // after the opening fence, to the closing one
    if (spans.length && FENCE.test(spans.at(-1))) spans.pop();
  } else {
    spans = [...unit.text.matchAll(INLINE_CODE)].map((match) => match[1]);
    for (const word of words(unit.text.replace(INLINE_CODE, " ")).map(trimmed)) {
      if (!ABBREVIATIONS.has(word) && CODE_SHAPED.test(word)) spans.push(word);
    }
  }
  return spans.map(collapse).filter(Boolean);
}

// One source's text, ready for the checks.
export class SourceText {
  constructor(text, grounding) {
    const { match_prefix: matchPrefix, min_prefix: minPrefix } = grounding;
    this.matchPrefix = matchPrefix;
    this.minPrefix = minPrefix;
    this.text = collapse(text);
    this.words = new Set(contentWords(text, grounding));
    this.prefixes = new Set();
    this.stems = new Set();
    for (const word of this.words) {
      const chars = [...word];
      for (let end = minPrefix; end < chars.length; end++) {
        this.prefixes.add(chars.slice(0, end).join(""));
      }
      if (chars.length >= matchPrefix) this.stems.add(chars.slice(0, matchPrefix).join(""));
    }
  }

  hasWord(word) {
    const chars = [...word];
    if (this.words.has(word) || (chars.length >= this.minPrefix && this.prefixes.has(word))) {
      return true;
    }
    if (chars.length >= this.matchPrefix) {
      if (this.stems.has(chars.slice(0, this.matchPrefix).join(""))) return true;
    }
    for (let end = this.minPrefix; end < chars.length; end++) {
      if (this.words.has(chars.slice(0, end).join(""))) return true;
    }
    return false;
  }

  // `span` appears whole: not inside a longer name or number.
  hasCode(span) {
    for (let start = this.text.indexOf(span); start >= 0; start = this.text.indexOf(span, start + 1)) {
      const end = start + span.length;
      const behind = [...this.text.slice(Math.max(start - 2, 0), start)].reverse().join("");
      const before = !joins(span[0], behind);
      const after = !joins(span.at(-1), this.text.slice(end, end + 2));
      if (before && after) return true;
    }
    return false;
  }
}

// {found, novel, words}: content words the source (or the question) has; of them, those the
// source has and the question does not; all of the unit's.
export function support(unitWords, source, question) {
  let found = 0;
  let novel = 0;
  for (const word of unitWords) {
    const inSource = source.hasWord(word);
    const inQuestion = question.hasWord(word);
    found += inSource || inQuestion ? 1 : 0;
    novel += inSource && !inQuestion ? 1 : 0;
  }
  return { found, novel, words: unitWords.length };
}

function words(text) {
  return text.split(/\s+/).filter(Boolean);
}

function collapse(text) {
  return words(text).join(" ");
}

// Whether the name or number that `edge` ends goes on in the next two characters, read
// outward: "gh-deploy" in "gh-deploy-all", "0.0.1" in "127.0.0.1" and "1.2" in "1.2.3" (a
// dot between digits), not "serve" in "serve. Then" nor "os.path" in "os.path.join".
function joins(edge, outward) {
  if (!WORD_CHARACTER.test(edge) || !outward) return false;
  if (NAME_CHARACTER.test(outward[0])) return true;
  return DIGIT.test(edge) && outward[0] === "." && DIGIT.test(outward[1] ?? "");
}

// A word without the punctuation around it; a call's "()" stays.
function trimmed(word) {
  for (;;) {
    let next = stripChars(word, WORD_EDGES).replace(/\.+$/, "");
    if (next.startsWith("(")) next = next.slice(1);
    if (next.endsWith(")") && !next.endsWith("()")) next = next.slice(0, -1);
    if (next === word) return word;
    word = next;
  }
}

// Python's str.strip(chars).
export function stripChars(text, chars) {
  let start = 0;
  let end = text.length;
  while (start < end && chars.includes(text[start])) start++;
  while (end > start && chars.includes(text[end - 1])) end--;
  return text.slice(start, end);
}
