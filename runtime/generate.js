// Running a loaded program: the decoder's prefill + decode loop, streaming each token as it
// is chosen, and the embedder's embed phase over a batch of texts.

import { isGreedy, sampleVariables } from "./sampling.js";

export const DEFAULT_SETTINGS = {
  maxTokens: 256,
  stopIds: [],
  stopStrings: [],
  temperature: 0,
  topK: 0,
  topP: 1,
  repetitionPenalty: 1,
  seed: 0,
  logitBias: null, // {tokens: [ids], value}: `value` added to those tokens' logits
  // {source: [each text's ids, then SPAN_SEPARATOR], value}: `value` added to the
  // tokens that follow, in the source, the longest tail of the answer found there; a text
  // after ANSWER_START is an opening, which the answer's start matches
  copySpans: null,
};

// As pagemind.models.generate and the program's copy_span_bias step.
export const SPAN_SEPARATOR = 0xffffffff; // ends each text of copySpans.source
export const ANSWER_START = 0xfffffffe; // before each opening in copySpans.source
export const MAX_COPY_SOURCE = 2048; // source ids the program's copy_source buffer holds
const COPY_SOURCE_HEADER = 2; // copy_source: the number of ids, the value's f32 bits, the ids

const U32 = 4;
const F32 = 4;

// Decode steps submitted ahead of the tokens read back. A read's round trip costs
// about one step, and the CPU's work between reads (stop checks, streaming the text) varies;
// four covers both with room to spare, while a stop wastes at most three steps of GPU work
// (and delays the next generation's prefill by no more).
const STEPS_AHEAD = 4;

// promptIds[from:] through the prefill phase, in chunks of at most the program's `tokens`
// rows; the KV cache already holds the positions before `from`. The last chunk goes through
// `runLast(phase, variables)`, which chooses the first new token.
function prefill(executor, promptIds, from, runLast) {
  const rows = executor.bytesOf("tokens") / U32;
  for (let position = from; position < promptIds.length; position += rows) {
    const chunk = promptIds.slice(position, position + rows);
    executor.write("tokens", Uint32Array.from(chunk));
    const variables = { n_tokens: chunk.length, position };
    if (position + rows >= promptIds.length) runLast("prefill", variables);
    else executor.run("prefill", variables);
  }
}

// The program's logit_bias values (one per vocabulary entry) for the `logitBias` setting:
// each listed token gets `value`, every other 0; none asked for, all 0.
function denseLogitBias(logitBias, vocabSize) {
  const bias = new Float32Array(vocabSize);
  if (!logitBias) return bias;
  const { tokens, value } = logitBias;
  if (!Number.isFinite(value) || !tokens?.[Symbol.iterator]) {
    throw new Error("logitBias must be {tokens: [token ids], value: a finite number}");
  }
  for (const token of tokens) {
    if (!Number.isInteger(token) || token < 0 || token >= vocabSize) {
      throw new Error(`logitBias: ${token} is not one of the model's ${vocabSize} token ids`);
    }
    bias[token] = value;
  }
  return bias;
}

// Throws unless `copySpans` is {source: token ids, SPAN_SEPARATOR or ANSWER_START, at most
// MAX_COPY_SOURCE, value: a finite number}.
function checkCopySpans({ source, value }, vocabSize) {
  if (!Number.isFinite(value) || !Array.isArray(source)) {
    throw new Error(
      "copySpans must be {source: [token ids, a separator after each text], value: a finite number}",
    );
  }
  if (source.length > MAX_COPY_SOURCE) {
    throw new Error(
      `copySpans: a source of ${source.length} ids, more than the ${MAX_COPY_SOURCE} the ` +
        "program holds: cut it (copySpanSource does)",
    );
  }
  for (const token of source) {
    const marker = token === SPAN_SEPARATOR || token === ANSWER_START;
    if (!marker && !(Number.isInteger(token) && token >= 0 && token < vocabSize)) {
      throw new Error(
        `copySpans: ${token} is neither one of the model's ${vocabSize} token ids ` +
          "nor SPAN_SEPARATOR nor ANSWER_START",
      );
    }
  }
}

// The program's copy_source words for the `copySpans` setting: [how many source ids, the
// value as f32 bits, the ids], zeros after; none asked for, all zeros (the step adds nothing).
function copySourceWords(copySpans, vocabSize, length) {
  const words = new Uint32Array(length);
  if (!copySpans) return words;
  checkCopySpans(copySpans, vocabSize);
  words[0] = copySpans.source.length;
  new Float32Array(words.buffer, U32, 1)[0] = copySpans.value;
  words.set(copySpans.source, COPY_SOURCE_HEADER);
  return words;
}

// What generate() writes into copy_source; null for a program without the buffer (built
// before copy spans), which generates only without copySpans.
function copySourceOf(executor, copySpans, vocabSize) {
  if (executor.program.buffers.copy_source) {
    return copySourceWords(copySpans, vocabSize, executor.bytesOf("copy_source") / U32);
  }
  if (copySpans) {
    throw new Error(
      "copySpans: this model's program has no copy_source buffer: " +
        "rebuild the site with this version of pagemind",
    );
  }
  return null;
}

// How many leading prompt tokens the KV cache holds already (`cached`: its token ids). The
// last prompt token always runs again: its logits choose the first new token.
function reusablePrefix(cached, promptIds) {
  const limit = Math.min(cached.length, promptIds.length - 1);
  let length = 0;
  while (length < limit && cached[length] === promptIds[length]) length++;
  return length;
}

// Tokens chosen on the GPU: greedy ones by the step's top_k, sampled ones by the sample
// phase run after it; either leaves its choice in top_indices[0], which the next decode
// step embeds. So up to STEPS_AHEAD steps run ahead of the reads. Each step copies its
// token into its own read slot (a ring reused once a slot's read came back); tokens are
// read in order. Step 0 is the prefill; at most `steps` in all.
class Decoder {
  constructor(executor, promptIds, from, steps, settings) {
    this.executor = executor;
    this.firstPosition = promptIds.length; // where decode step 1 writes the KV cache
    this.steps = steps;
    const programTopK = executor.bytesOf("top_indices") / U32;
    this.sampling = isGreedy(settings) ? null : sampleVariables(settings, programTopK);
    this.slots = Array.from({ length: STEPS_AHEAD }, () => executor.readSlot("top_indices", U32));
    this.reads = []; // of the steps submitted and not yet read, in order
    this.read = 0;
    this.submitted = 0;
    prefill(executor, promptIds, from, (phase, variables) => this.submit(phase, variables));
    this.advance();
  }

  // Runs a step that leaves logits, then its choice, which the step's slot takes.
  submit(phase, variables) {
    const slot = this.slots[this.submitted % STEPS_AHEAD];
    if (this.sampling) {
      this.executor.run(phase, variables);
      this.executor.run("sample", this.sampling(this.submitted), slot);
    } else {
      this.executor.run(phase, variables, slot);
    }
    // Reads are awaited in order; one discarded, or failing after an earlier failure, is
    // no unhandled rejection.
    const read = slot.read();
    read.catch(() => {});
    this.reads.push(read);
    this.submitted++;
  }

  async next() {
    const token = new Uint32Array(await this.reads.shift())[0];
    this.read++;
    return token;
  }

  // The step embedding the token just read is submitted already; fill the window behind it.
  advance() {
    while (this.submitted < Math.min(this.steps, this.read + STEPS_AHEAD)) {
      this.submit("decode", { position: this.firstPosition + this.submitted - 1 });
    }
  }

  // Steps past the end are discarded: their pending reads end with their slots.
  close() {
    for (const slot of this.slots) slot.destroy();
  }
}

// Generates after `promptIds`; `onToken(id)` hears each new token as it comes. Stops at a
// stop id, at maxTokens, when `shouldStop()` turns true, when the text (`textOf(ids)`)
// contains a stop string (that last token is not passed on), or when the KV cache's
// `contextLength` positions are full. `cached` lists the token ids the KV cache holds and
// is kept up to date: a prompt that starts with them (a conversation sent again with a new
// turn) prefills only the rest. Steps run ahead on the GPU (Decoder); the KV cache
// positions of steps discarded after a stop are not listed in `cached`, so a later prompt
// overwrites them. Returns {tokens, reason, reused}.
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
  const vocabSize = executor.bytesOf("logit_bias") / F32;
  const bias = denseLogitBias(settings.logitBias, vocabSize);
  const copySource = copySourceOf(executor, settings.copySpans, vocabSize);
  const stopIds = new Set(settings.stopIds);
  const tokens = [];
  const reused = reusablePrefix(cached, promptIds);
  cached.splice(reused, Infinity, ...promptIds.slice(reused));
  // The prefill's token and one per decode step, never a step past maxTokens or the context.
  const steps = Math.max(1, Math.min(settings.maxTokens, contextLength - promptIds.length + 1));
  // Every generation writes them, zeros included: the buffers keep the last one's bias.
  executor.write("logit_bias", bias);
  if (copySource) executor.write("copy_source", copySource);
  const decoder = new Decoder(executor, promptIds, reused, steps, settings);
  try {
    for (;;) {
      const token = await decoder.next();
      if (shouldStop()) return { tokens, reason: "stopped", reused };
      if (stopIds.has(token)) return { tokens, reason: "stop-id", reused };
      const text = settings.stopStrings.length && textOf([...tokens, token]);
      if (text && settings.stopStrings.some((stop) => text.includes(stop))) {
        return { tokens, reason: "stop-string", reused };
      }
      tokens.push(token);
      onToken(token);
      if (tokens.length >= settings.maxTokens) return { tokens, reason: "max-tokens", reused };
      if (tokens.length >= steps) return { tokens, reason: "context-full", reused };
      decoder.advance();
      cached.push(token);
    }
  } finally {
    decoder.close();
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
