// Running a loaded program: the decoder's prefill + decode loop, streaming each token as it
// is chosen, and the embedder's embed phase over a batch of texts.

import { isGreedy, sampleToken, seededRandom } from "./sampling.js";

export const DEFAULT_SETTINGS = {
  maxTokens: 256,
  stopIds: [],
  stopStrings: [],
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 0,
};

const U32 = 4;

// promptIds[from:] through the prefill phase, in chunks of at most the program's `tokens`
// rows; the KV cache already holds the positions before `from`.
function prefill(executor, promptIds, from) {
  const rows = executor.bytesOf("tokens") / U32;
  for (let position = from; position < promptIds.length; position += rows) {
    const chunk = promptIds.slice(position, position + rows);
    executor.write("tokens", Uint32Array.from(chunk));
    executor.run("prefill", { n_tokens: chunk.length, position });
  }
}

// How many leading prompt tokens the KV cache holds already (`cached`: its token ids). The
// last prompt token always runs again: its logits choose the first new token.
function reusablePrefix(cached, promptIds) {
  const limit = Math.min(cached.length, promptIds.length - 1);
  let length = 0;
  while (length < limit && cached[length] === promptIds[length]) length++;
  return length;
}

async function chooseToken(executor, history, settings, random) {
  if (isGreedy(settings)) return new Uint32Array(await executor.read("top_indices", U32))[0];
  const logits = new Float32Array(await executor.read("logits"));
  return sampleToken(logits, history, settings, random);
}

// Generates after `promptIds`; `onToken(id)` hears each new token as it comes. Stops at a
// stop id, at maxTokens, when `shouldStop()` turns true, when the text (`textOf(ids)`)
// contains a stop string (that last token is not passed on), or when the KV cache's
// `contextLength` positions are full. `cached` lists the token ids the KV cache holds and
// is kept up to date: a prompt that starts with them (a conversation sent again with a new
// turn) prefills only the rest. Returns {tokens, reason, reused}.
export async function generate(
  executor,
  promptIds,
  options,
  { onToken, shouldStop, textOf, cached = [], contextLength = Infinity },
) {
  const settings = { ...DEFAULT_SETTINGS, ...options };
  if (promptIds.length === 0) throw new Error("the prompt has no tokens");
  if (promptIds.length > contextLength) {
    throw new Error(
      `the prompt has ${promptIds.length} tokens, more than the model's context of ` +
        `${contextLength}: send fewer (drop older turns or shorter sources)`,
    );
  }
  if (settings.stopStrings.length && !textOf) throw new Error("stop strings need a tokenizer");
  const stopIds = new Set(settings.stopIds);
  const random = seededRandom(settings.seed);
  const tokens = []; // also the repetition penalty's history (see sampling.js)
  const reused = reusablePrefix(cached, promptIds);
  cached.splice(reused, Infinity, ...promptIds.slice(reused));
  prefill(executor, promptIds, reused);
  for (let position = promptIds.length; ; position++) {
    const token = await chooseToken(executor, tokens, settings, random);
    if (shouldStop()) return { tokens, reason: "stopped", reused };
    if (stopIds.has(token)) return { tokens, reason: "stop-id", reused };
    const text = settings.stopStrings.length && textOf([...tokens, token]);
    if (text && settings.stopStrings.some((stop) => text.includes(stop))) {
      return { tokens, reason: "stop-string", reused };
    }
    tokens.push(token);
    onToken(token);
    if (tokens.length >= settings.maxTokens) return { tokens, reason: "max-tokens", reused };
    if (position >= contextLength) return { tokens, reason: "context-full", reused };
    executor.write("tokens", Uint32Array.of(token));
    executor.run("decode", { position });
    cached.push(token);
  }
}

// The embed phase's inputs for texts packed end to end (embedder_program.pack_sequences).
function packSequences(sequences) {
  const tokens = sequences.flat();
  const positions = [];
  const tokenSpans = [];
  const sequenceSpans = [];
  let start = 0;
  for (const ids of sequences) {
    ids.forEach((_, position) => {
      positions.push(position);
      tokenSpans.push(start, ids.length);
    });
    sequenceSpans.push(start, ids.length);
    start += ids.length;
  }
  return {
    tokens: Uint32Array.from(tokens),
    positions: Uint32Array.from(positions),
    token_spans: Uint32Array.from(tokenSpans),
    sequence_spans: Uint32Array.from(sequenceSpans),
  };
}

// Batches of whole sequences that fit the program's `tokens` rows.
function batches(sequences, capacity) {
  const result = [[]];
  let used = 0;
  for (const ids of sequences) {
    if (ids.length > capacity) {
      throw new Error(`a text of ${ids.length} tokens is longer than the program's ${capacity}`);
    }
    if (used + ids.length > capacity) {
      result.push([]);
      used = 0;
    }
    result.at(-1).push(ids);
    used += ids.length;
  }
  return result.filter((batch) => batch.length);
}

// One unit vector (Float32Array) per token-id sequence.
export async function embed(executor, sequences) {
  const capacity = executor.bytesOf("tokens") / U32;
  // `embeddings` holds as many rows as `tokens`: hidden_size floats each.
  const hidden = executor.bytesOf("embeddings") / executor.bytesOf("tokens");
  const vectors = [];
  for (const batch of batches(sequences, capacity)) {
    const inputs = packSequences(batch);
    for (const [name, values] of Object.entries(inputs)) executor.write(name, values);
    executor.run("embed", { n_tokens: inputs.tokens.length, n_sequences: batch.length });
    const floats = new Float32Array(await executor.read("embeddings", batch.length * hidden * 4));
    for (let i = 0; i < batch.length; i++) vectors.push(floats.slice(i * hidden, (i + 1) * hidden));
  }
  return vectors;
}
