// Byte-level BPE (GPT-2 style) built from the `tokenizer` spec of a model manifest
// (generator/pagemind/models/bpe.py tokenizer_spec). It gives the ids the `tokenizers`
// library gives for the same spec: literal tokens first, then the split patterns, then the
// text's UTF-8 bytes spelled in GPT-2's byte alphabet and merged by rank.

import { literalTokenSplitter } from "./tokenizer_special.js";

const BYTE_TO_CHAR = byteAlphabet();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((char, byte) => [char, byte]));
const UTF8 = new TextEncoder();
const CACHE_LIMIT = 10000; // distinct pieces remembered, as the Rust library's BPE cache

export class BpeTokenizer {
  /** @param {object} spec the manifest's `tokenizer` entry, type "byte-level-bpe" */
  constructor(spec) {
    if (spec.type !== "byte-level-bpe") {
      throw new Error(`not a byte-level BPE tokenizer spec: type ${JSON.stringify(spec.type)}`);
    }
    this.tokens = spec.vocab.map(byteSpelling);
    this.ids = new Map(this.tokens.map((token, id) => [token, id]));
    // Merge parts never contain a space (byte 0x20 is spelled "Ġ"), so "left right" is a key.
    this.ranks = new Map(spec.merges.map((merge, rank) => [merge, rank]));
    this.preTokenize = patternSplitter(spec.split_patterns);
    const literals = spec.added_tokens.filter(isMatchedInText);
    this.splitLiterals = literalTokenSplitter(literals.map((token) => [token.content, token.id]));
    this.special = new Set(spec.added_tokens.filter((t) => t.special).map((t) => t.id));
    this.bosId = spec.bos_id;
    this.eosId = spec.eos_id;
    this.addBos = spec.add_bos;
    this.cache = new Map();
  }

  /** Token ids of `text`, led by BOS when the model asks for it (or `addBos` says so). */
  encode(text, { addBos = this.addBos } = {}) {
    const ids = addBos && this.bosId != null ? [this.bosId] : [];
    for (const part of this.splitLiterals(text)) {
      if (typeof part === "number") ids.push(part);
      else this.appendPlainText(part, ids);
    }
    return ids;
  }

  /** Appends the ids of text that holds no literal token (one by one: pieces can be long). */
  appendPlainText(text, ids) {
    for (const piece of this.preTokenize(text)) {
      for (const id of this.pieceIds(piece)) ids.push(id);
    }
  }

  /** The text of `ids`; special tokens are left out unless `skipSpecial` is false. */
  decode(ids, { skipSpecial = true } = {}) {
    const bytes = ids.flatMap((id) => this.tokenBytes(id, skipSpecial));
    return newUtf8Decoder().decode(Uint8Array.from(bytes));
  }

  /** A decoder for ids that arrive one at a time, as a model generates them. */
  streamDecoder({ skipSpecial = true } = {}) {
    return new StreamDecoder(this, skipSpecial);
  }

  /** The bytes a token stands for (none for unknown ids and skipped special tokens). */
  tokenBytes(id, skipSpecial) {
    const token = this.tokens[id];
    if (token === undefined || (skipSpecial && this.special.has(id))) return [];
    const bytes = Array.from(token, (char) => CHAR_TO_BYTE.get(char));
    // As the Rust ByteLevel decoder: a token outside the byte alphabet stands for itself.
    return bytes.includes(undefined) ? [...UTF8.encode(token)] : bytes;
  }

  /** The ids of one pre-tokenized piece (remembered: docs repeat their words). */
  pieceIds(piece) {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      ids = this.merge(piece).map((symbol) => this.ids.get(symbol));
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /**
   * The piece's bytes as symbols, merged pair by pair: always the lowest merge rank, the
   * leftmost pair among equals, as the Rust library's priority queue does.
   */
  merge(piece) {
    const symbols = Array.from(UTF8.encode(piece), (byte) => BYTE_TO_CHAR[byte])
      // The Rust library drops a byte missing from the vocabulary (there is no unknown token).
      .filter((symbol) => this.ids.has(symbol));
    // A linked list over the symbol slots: a merge grows the left slot and empties the right.
    const next = symbols.map((_, index) => index + 1);
    const previous = symbols.map((_, index) => index - 1);
    const queue = new PairQueue();
    const queuePair = (left) => {
      const right = next[left];
      if (right >= symbols.length) return;
      const rank = this.ranks.get(`${symbols[left]} ${symbols[right]}`);
      if (rank !== undefined) queue.push({ rank, left, pair: [symbols[left], symbols[right]] });
    };
    symbols.forEach((_, index) => queuePair(index));
    while (queue.size > 0) {
      const { left, pair } = queue.pop();
      const right = next[left];
      // Skip pairs that earlier merges changed since they were queued.
      if (symbols[left] !== pair[0] || symbols[right] !== pair[1]) continue;
      symbols[left] = pair[0] + pair[1];
      symbols[right] = null;
      next[left] = next[right];
      if (next[left] < symbols.length) previous[next[left]] = left;
      if (previous[left] >= 0) queuePair(previous[left]);
      queuePair(left);
    }
    return symbols.filter((symbol) => symbol !== null);
  }
}

/** Emits only complete characters: a character split across tokens waits for its last byte. */
export class StreamDecoder {
  constructor(tokenizer, skipSpecial) {
    this.tokenizer = tokenizer;
    this.skipSpecial = skipSpecial;
    this.utf8 = newUtf8Decoder();
  }

  /** The text that token `id` completes ("" while a character is still incomplete). */
  push(id) {
    const bytes = this.tokenizer.tokenBytes(id, this.skipSpecial);
    return this.utf8.decode(Uint8Array.from(bytes), { stream: true });
  }

  /** Whatever is left at the end (a replacement character for a cut-off sequence). */
  flush() {
    return this.utf8.decode();
  }
}

/**
 * The pre-tokenizer: each pattern cuts every piece so far into its matches and the text
 * between them, in order (the library's Split with behavior "isolated").
 */
export function patternSplitter(patterns) {
  const regexps = patterns.map(toJsRegExp);
  return (text) =>
    regexps.reduce((pieces, regexp) => pieces.flatMap((piece) => splitIsolated(piece, regexp)), [
      text,
    ]);
}

function splitIsolated(text, regexp) {
  const pieces = [];
  let end = 0;
  for (const match of text.matchAll(regexp)) {
    if (match.index > end) pieces.push(text.slice(end, match.index));
    pieces.push(match[0]);
    end = match.index + match[0].length;
  }
  if (end < text.length) pieces.push(text.slice(end));
  return pieces;
}

// The patterns are written for Oniguruma, which the Rust library uses. Two constructs read
// differently in JavaScript and are rewritten:
// - `\s`: Oniguruma's is Unicode White_Space (with U+0085, without U+FEFF); JavaScript's
//   is not. `\p{L}` and `\p{N}` mean the same in both.
// - `(?i:...)`: Node 20 has no inline flags, so each letter becomes a class of the letters
//   that fold to it.
const ESCAPE_OR_CASELESS_GROUP = /\\p\{[^}]*\}|\\.|\(\?i:((?:\\.|[^()\\])*)\)/g;
const PROPERTY_OR_ESCAPE_OR_LETTER = /\\[pP]\{[^}]*\}|\\.|[a-zA-Z]/g;
// Among non-ASCII characters only these fold to ASCII letters (Unicode CaseFolding.txt).
const NON_ASCII_FOLDS = { k: "\u212A", s: "\u017F" };

export function toJsRegExp(pattern) {
  const source = pattern.replace(ESCAPE_OR_CASELESS_GROUP, (text, caselessBody) => {
    if (caselessBody !== undefined) return `(?:${anyCase(caselessBody)})`;
    if (text === "\\s") return "\\p{White_Space}";
    if (text === "\\S") return "\\P{White_Space}";
    return text;
  });
  return new RegExp(source, "gu");
}

function anyCase(source) {
  return source.replace(PROPERTY_OR_ESCAPE_OR_LETTER, (text) => {
    if (text.length > 1) return text;
    const lower = text.toLowerCase();
    return `[${lower}${lower.toUpperCase()}${NON_ASCII_FOLDS[lower] ?? ""}]`;
  });
}

/** GPT-2's printable stand-in character for each byte value. */
function byteAlphabet() {
  const printable = (byte) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
  let extra = 256;
  return Array.from({ length: 256 }, (_, byte) =>
    String.fromCodePoint(printable(byte) ? byte : extra++),
  );
}

/** Vocabularies store tokens in the byte alphabet; respell any that are not. */
function byteSpelling(token) {
  if (Array.from(token).every((char) => CHAR_TO_BYTE.has(char))) return token;
  return Array.from(UTF8.encode(token), (byte) => BYTE_TO_CHAR[byte]).join("");
}

// A control token outside the byte alphabet is a converter mislabel: the library leaves it
// unmatched, and so does this tokenizer.
function isMatchedInText(token) {
  return !token.special || Array.from(token.content).every((char) => CHAR_TO_BYTE.has(char));
}

// ignoreBOM keeps a leading U+FEFF as text, as Rust's from_utf8_lossy does; invalid bytes
// become U+FFFD in both.
function newUtf8Decoder() {
  return new TextDecoder("utf-8", { ignoreBOM: true });
}

/** A binary min-heap of candidate merges, ordered by rank, then by position. */
export class PairQueue {
  constructor() {
    this.items = [];
  }

  get size() {
    return this.items.length;
  }

  push(item) {
    const items = this.items;
    items.push(item);
    for (let child = items.length - 1; child > 0; ) {
      const parent = (child - 1) >> 1;
      if (!before(items[child], items[parent])) break;
      [items[child], items[parent]] = [items[parent], items[child]];
      child = parent;
    }
  }

  pop() {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0) {
      items[0] = last;
      for (let parent = 0; ; ) {
        const [left, right] = [2 * parent + 1, 2 * parent + 2];
        let first = parent;
        if (left < items.length && before(items[left], items[first])) first = left;
        if (right < items.length && before(items[right], items[first])) first = right;
        if (first === parent) break;
        [items[parent], items[first]] = [items[first], items[parent]];
        parent = first;
      }
    }
    return top;
  }
}

function before(a, b) {
  return a.rank < b.rank || (a.rank === b.rank && a.left < b.left);
}
