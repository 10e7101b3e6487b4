// Copy-biased decoding: the tokens of the quoted sections and the question, which generation
// prefers (generate.js's `logitBias`), and the sections' token ids, whose passages an answer
// that started quoting one is pushed to go on quoting (generate.js's `copySpans`); the same
// as pagemind.assistant.copy_bias in Python (parity-tested; its docstring says why).
//
//   const tokens = copyBiasTokens(promptTokenizer, [...prompt.excerpts, question], chat.stop_ids);
//   settings.logitBias = {tokens, value: assistantSettings.copy_bias};
//   const source = copySpanSource(promptTokenizer, prompt.excerpts);
//   settings.copySpans = {source, value: assistantSettings.copy_span_bias};

import { MAX_COPY_SOURCE, SPAN_SEPARATOR } from "./generate.js";
import { stripChars } from "./support.js";

const WORD_EDGES = "`'\"()[]{}<>,.;:!?*";

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

// copySpans.source for these texts: each one's ids and a separator, at most MAX_COPY_SOURCE
// ids in all. The sources only: copying the question's phrases would make the answer
// restate it.
export function copySpanSource(tokenizer, texts) {
  const ids = texts.flatMap((text) => [...tokenizer.ids(text), SPAN_SEPARATOR]);
  return ids.slice(0, MAX_COPY_SOURCE);
}
