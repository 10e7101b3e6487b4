// BERT's WordPiece tokenizer built from the `tokenizer` spec of a model manifest
// (generator/pagemind/models/wordpiece.py wordpiece_spec). It gives the ids the `tokenizers`
// library gives for the same spec: literal special tokens first, then BertNormalizer,
// BertPreTokenizer, greedy longest-match-first WordPiece, [CLS] ... [SEP] and truncation.
//
// The Rust library's character classes are spelled out here with Unicode properties, since
// JavaScript's `\s` is not Rust's char::is_whitespace (the White_Space property).

import { literalTokenSplitter } from "./tokenizer_special.js";

// Removed by clean_text: NUL, U+FFFD, and control, format, private-use and surrogate
// characters except tab, LF and CR (unassigned code points stay, as in Rust).
const UNWANTED = /[\0\uFFFD]|(?![\t\n\r])[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu;
const WHITESPACE = /\p{White_Space}/gu;
// The CJK Unified Ideograph blocks BERT pads with spaces (the library's ranges, verbatim:
// U+2B820..U+2B91F is left out there too).
const CJK_RANGES = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b920, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];
const codePointRange = ([first, last]) => `\\u{${first.toString(16)}}-\\u{${last.toString(16)}}`;
const CHINESE = new RegExp(`[${CJK_RANGES.map(codePointRange).join("")}]`, "gu");
const NONSPACING_MARK = /\p{Mn}/gu;
// BERT's punctuation: all ASCII punctuation (with symbols such as $ + < = > ^ ` | ~) and
// Unicode's P categories. Each punctuation character is a word; whitespace separates words.
const PUNCTUATION = String.raw`!-\/:-@\[-\x60{-~\p{P}`;
const WORDS = new RegExp(String.raw`[${PUNCTUATION}]|[^${PUNCTUATION}\p{White_Space}]+`, "gu");

export class WordPieceTokenizer {
  /** @param {object} spec the manifest's `tokenizer` entry, type "wordpiece" */
  constructor(spec) {
    if (spec.type !== "wordpiece") {
      throw new Error(`not a WordPiece tokenizer spec: type ${JSON.stringify(spec.type)}`);
    }
    this.spec = spec;
    this.ids = new Map(spec.vocab.map((token, id) => [token, id]));
    const specials = spec.special_tokens.map((token) => [token, this.ids.get(token)]);
    this.splitSpecials = literalTokenSplitter(specials);
  }

  /** [CLS], the ids of `text`, [SEP]: at most `max_length` ids in all. */
  encode(text) {
    const ids = [];
    for (const part of this.splitSpecials(text)) {
      if (typeof part === "number") ids.push(part);
      else for (const word of this.words(part)) ids.push(...this.wordIds(word));
    }
    const { cls_id, sep_id, max_length } = this.spec;
    return [cls_id, ...ids.slice(0, max_length - 2), sep_id];
  }

  /** BertNormalizer: clean, pad CJK characters, strip accents, lowercase, in that order. */
  normalize(text) {
    const spec = this.spec;
    if (spec.clean_text) text = text.replace(UNWANTED, "").replace(WHITESPACE, " ");
    if (spec.handle_chinese_chars) text = text.replace(CHINESE, " $& ");
    if (spec.strip_accents) text = text.normalize("NFD").replace(NONSPACING_MARK, "");
    // Rust lowercases character by character; JavaScript would make a final sigma "ς".
    if (spec.lowercase) text = text.replaceAll("\u03A3", "\u03C3").toLowerCase();
    return text;
  }

  words(text) {
    return this.normalize(text).match(WORDS) ?? [];
  }

  /** Greedy longest-match-first pieces of one word, or [UNK] if any part has none. */
  wordIds(word) {
    const chars = Array.from(word);
    const { unk_id, continuing_subword_prefix, max_input_chars_per_word } = this.spec;
    if (chars.length > max_input_chars_per_word) return [unk_id];
    const ids = [];
    for (let start = 0; start < chars.length; ) {
      const piece = this.longestPiece(chars, start, start > 0 ? continuing_subword_prefix : "");
      if (piece === null) return [unk_id];
      ids.push(piece.id);
      start = piece.end;
    }
    return ids;
  }

  /** The id and end of the longest vocabulary entry that `chars` has at `start`, or null. */
  longestPiece(chars, start, prefix) {
    for (let end = chars.length; end > start; end--) {
      const id = this.ids.get(prefix + chars.slice(start, end).join(""));
      if (id !== undefined) return { id, end };
    }
    return null;
  }
}
