// SentencePiece tokenizer built from the `tokenizer` spec of a model manifest
// (generator/pagemind/models/spm.py, whose docstring describes the algorithm: llama.cpp's
// for Llama 2 and Gemma GGUF vocabularies). Both give the same ids for the same spec.

import { PairQueue, StreamDecoder } from "./tokenizer_bpe.js";
import { literalTokenSplitter } from "./tokenizer_special.js";

const SPACE = "\u2581"; // "▁", SentencePiece's spelling of a space
// tokenizer.ggml.token_type values
const [NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE] = [1, 2, 3, 4, 6];
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;
const UTF8 = new TextEncoder();

export class SpmTokenizer {
  /** @param {object} spec the manifest's `tokenizer` entry, type "spm" */
  constructor(spec) {
    if (spec.type !== "spm") {
      throw new Error(`not a SentencePiece tokenizer spec: type ${JSON.stringify(spec.type)}`);
    }
    this.pieces = spec.vocab;
    this.scores = spec.scores;
    this.types = spec.token_types;
    this.ids = new Map(this.pieces.map((piece, id) => [piece, id])); // the last wins
    this.byteIds = new Map();
    this.pieces.forEach((piece, id) => {
      const match = BYTE_PIECE.exec(piece);
      if (match) this.byteIds.set(parseInt(match[1], 16), id);
    });
    this.splitLiterals = literalTokenSplitter(spec.added_tokens.map((t) => [t.content, t.id]));
    this.bosId = spec.bos_id;
    this.eosId = spec.eos_id;
    this.unkId = spec.unk_id;
    this.addBos = spec.add_bos;
    this.addSpacePrefix = spec.add_space_prefix;
  }

  /** Token ids of `text`, led by BOS when the model asks for it (or `addBos` says so). */
  encode(text, { addBos = this.addBos } = {}) {
    const ids = addBos && this.bosId != null ? [this.bosId] : [];
    let afterLiteral = true; // the text's start counts as following one
    for (const part of this.splitLiterals(text)) {
      if (typeof part === "number") {
        ids.push(part);
        afterLiteral = true;
        continue;
      }
      const prefix = this.addSpacePrefix && afterLiteral ? " " : "";
      for (const id of this.merge((prefix + part).replaceAll(" ", SPACE))) ids.push(id);
      afterLiteral = false;
    }
    return ids;
  }

  /** The text of `ids`, without the space prefix that encoding adds. */
  decode(ids, { skipSpecial = true } = {}) {
    const bytes = ids.flatMap((id) => this.tokenBytes(id, skipSpecial));
    const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(Uint8Array.from(bytes));
    return this.addSpacePrefix && text.startsWith(" ") ? text.slice(1) : text;
  }

  /** A decoder for ids that arrive one at a time, as a model generates them. */
  streamDecoder({ skipSpecial = true } = {}) {
    return new StreamDecoder(this, skipSpecial);
  }

  /**
   * The bytes a token stands for: control and unknown tokens only when not skipped, unused
   * tokens never (as llama.cpp's token_to_piece).
   */
  tokenBytes(id, skipSpecial) {
    const piece = this.pieces[id];
    if (piece === undefined) return [];
    const type = this.types[id];
    const match = BYTE_PIECE.exec(piece);
    if (type === BYTE && match) return [parseInt(match[1], 16)];
    if (type === CONTROL || type === UNKNOWN) return skipSpecial ? [] : [...UTF8.encode(piece)];
    if (type === USER_DEFINED) return [...UTF8.encode(piece)];
    return type === NORMAL ? [...UTF8.encode(piece.replaceAll(SPACE, " "))] : [];
  }

  /**
   * The text's characters merged pair by pair: always the pair that joins into the piece of
   * highest score, the leftmost among equals, while any pair forms a piece.
   */
  merge(text) {
    const symbols = Array.from(text); // merged text per slot; "" once merged to the left
    const next = symbols.map((_, index) => index + 1);
    const previous = symbols.map((_, index) => index - 1);
    const queue = new PairQueue();
    const offer = (left, right) => {
      if (left < 0 || right >= symbols.length) return;
      const joined = symbols[left] + symbols[right];
      const id = this.ids.get(joined);
      if (id !== undefined) queue.push({ rank: -this.scores[id], left, right, size: joined.length });
    };
    for (let index = 1; index < symbols.length; index++) offer(index - 1, index);
    while (queue.size > 0) {
      const { left, right, size } = queue.pop();
      // A pair that an earlier merge changed is stale: symbols only grow.
      const stale = !symbols[left] || !symbols[right];
      if (stale || symbols[left].length + symbols[right].length !== size) continue;
      symbols[left] += symbols[right];
      symbols[right] = "";
      next[left] = next[right];
      if (next[left] < symbols.length) previous[next[left]] = left;
      offer(previous[left], left);
      offer(left, next[left]);
    }
    // Every merge made a piece: only a lone character can be none, and falls to bytes.
    return symbols
      .filter((symbol) => symbol)
      .flatMap((symbol) =>
        this.ids.has(symbol)
          ? [this.ids.get(symbol)]
          : Array.from(UTF8.encode(symbol), (byte) => this.byteId(byte)),
      );
  }

  byteId(byte) {
    return this.byteIds.get(byte) ?? this.ids.get(String.fromCharCode(byte)) ?? this.unkId;
  }
}
