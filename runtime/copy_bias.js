// Copy-biased decoding: the tokens of the quoted sections and the question, which generation
// prefers (generate.js's `logitBias`), and the sections' token ids, whose passages an answer
// that started quoting one is pushed to go on quoting, after the openings it is pushed to
// start with (generate.js's `copySpans`); the same as pagemind.assistant.copy_bias in Python
// (parity-tested; its docstring says why).
//
//   const tokens = copyBiasTokens(promptTokenizer, [...prompt.excerpts, question], chat.stop_ids);
//   settings.logitBias = {tokens, value: assistantSettings.copy_bias};
//   const openings = answerOpenings(evidence, promptedPlaces, grounding);
//   const source = copySpanSource(promptTokenizer, prompt.excerpts, openings);
//   settings.copySpans = {source, value: assistantSettings.copy_span_bias};

import { unitsOf } from "./evidence.js";
import { ANSWER_START, MAX_COPY_SOURCE, SPAN_SEPARATOR } from "./generate.js";
import { quoteOrder } from "./passage.js";
import { stripChars } from "./support.js";

const WORD_EDGES = "`'\"()[]{}<>,.;:!?*";
const OPENING_SECTIONS = 2; // the first sections the prompt quotes that give openings
const OPENING_UNITS = 2; // the units each of them gives, best first

export function copyBiasTokens(tokenizer, texts, keep) {
  const ids = new Set(keep);
  for (const text of texts) {
    for (const id of tokenizer.ids(text)) ids.add(id);
    const words = new Set(text.split(/\s+/).map((word) => stripChars(word, WORD_EDGES)).filter(Boolean));
    for (const word of words) {
      for (const id of tokenizer.ids(` ${word}`)) ids.add(id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

// The units an answer is pushed to start with: of each of the first OPENING_SECTIONS
// sections the prompt quotes (`places` in the evidence), the OPENING_UNITS the passage would
// quote first, each read from its start (a code block from the sentence that introduces
// it), best first, each once.
export function answerOpenings(evidence, places, grounding) {
  const openings = [];
  for (const place of places.slice(0, OPENING_SECTIONS)) {
    const units = unitsOf(evidence, place);
    for (const group of quoteOrder(units, grounding).slice(0, OPENING_UNITS)) {
      const { text } = units[Math.min(...group)].unit;
      if (!openings.includes(text)) openings.push(text);
    }
  }
  return openings;
}

// copySpans.source for these texts and openings: each opening's ids after ANSWER_START, then
// each text's, a separator after each, at most MAX_COPY_SOURCE ids in all (the openings
// first, so that a cut never drops them). The sources only: copying the question's phrases
// would make the answer restate it.
export function copySpanSource(tokenizer, texts, openings = []) {
  const ids = [
    ...openings.flatMap((opening) => [ANSWER_START, ...tokenizer.ids(opening), SPAN_SEPARATOR]),
    ...texts.flatMap((text) => [...tokenizer.ids(text), SPAN_SEPARATOR]),
  ];
  return ids.slice(0, MAX_COPY_SOURCE);
}
