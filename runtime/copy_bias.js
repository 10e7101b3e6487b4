// Copy-biased decoding: the tokens of the quoted sections and the question, which generation
// prefers (generate.js's `logitBias`), the same as pagemind.assistant.copy_bias in Python
// (parity-tested; its docstring says why these tokens).
//
//   const tokens = copyBiasTokens(promptTokenizer, [...sourceTexts, question], chat.stop_ids);
//   settings.logitBias = {tokens, value: assistantSettings.copy_bias};

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

