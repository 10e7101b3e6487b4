// The embedder on the CPU, for browsers without WebGPU: BERT's forward pass over one short
// text (a search query), in Float32Arrays, as generator/pagemind/models/bert.py computes it:
//
//   embeddings: word + position + token type, LayerNorm
//   N x post-LN layer: x = LN(x + attention(x)); x = LN(x + W2 gelu(W1 x))
//   pooling: mean over the tokens (or the [CLS] token), then L2 normalisation
//
// It reads the package the GPU path loads (manifest + shards, verified and kept in Cache
// Storage by loader.js). Matrices are dequantized to float32 once, at load, except the word
// embedding table (half the weights): a query dequantizes its own tokens' rows only.
// A 20-token query is about 0.4 GFLOP, a few hundred milliseconds: cpu_worker.js runs it off
// the page's thread.
//
//   const embedder = await CpuEmbedder.load(manifestUrl, { onProgress });
//   embedder.embed("a query")   // Float32Array, unit length

import { loadModel } from "./loader.js";
import { WordPieceTokenizer } from "./tokenizer_wordpiece.js";

const Q8_0_BLOCK = 32; // values per block, after a float16 scale: 34 bytes
const WORD_EMBEDDINGS = "embeddings.word_embeddings.weight";

// IEEE half precision to a number (DataView.getFloat16 is not in every browser yet).
function halfToFloat(bits) {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// A stored tensor: its bytes in GGUF block layout, its numpy-order shape and format.
class StoredTensor {
  constructor(entry, bytes) {
    this.format = entry.format;
    this.shape = entry.shape;
    this.bytes = bytes;
    this.columns = entry.shape.at(-1);
    this.rowBytes = bytes.length / (entry.shape.length > 1 ? entry.shape[0] : 1);
  }

  // Rows [first, first + count) as float32 values, written to `out` from `at`.
  dequantizeRows(first, count, out = new Float32Array(count * this.columns), at = 0) {
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const start = first * this.rowBytes;
    const values = count * this.columns;
    if (this.format === "F32") {
      for (let i = 0; i < values; i++) out[at + i] = view.getFloat32(start + 4 * i, true);
    } else if (this.format === "F16") {
      for (let i = 0; i < values; i++) {
        out[at + i] = halfToFloat(view.getUint16(start + 2 * i, true));
      }
    } else if (this.format === "Q8_0") {
      for (let block = 0; block < values / Q8_0_BLOCK; block++) {
        const offset = start + block * (2 + Q8_0_BLOCK);
        const scale = halfToFloat(view.getUint16(offset, true));
        const base = at + block * Q8_0_BLOCK;
        for (let i = 0; i < Q8_0_BLOCK; i++) out[base + i] = scale * view.getInt8(offset + 2 + i);
      }
    } else {
      throw new Error(`the CPU embedder cannot read ${this.format} tensors`);
    }
    return out;
  }

  dequantize() {
    return this.dequantizeRows(0, this.shape.length > 1 ? this.shape[0] : 1);
  }
}

// A tensor's bytes, joined when it is split across shards.
function tensorBytes(entry, shards) {
  const parts = (entry.parts ?? [entry]).map(({ shard, offset, bytes }) =>
    shards[shard].subarray(offset, offset + bytes),
  );
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(entry.bytes);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

// x (rows x columns) = LayerNorm(x) in place.
function layerNorm(x, columns, weight, bias, eps) {
  for (let row = 0; row < x.length; row += columns) {
    let mean = 0;
    for (let i = 0; i < columns; i++) mean += x[row + i];
    mean /= columns;
    let variance = 0;
    for (let i = 0; i < columns; i++) variance += (x[row + i] - mean) ** 2;
    const scale = 1 / Math.sqrt(variance / columns + eps);
    for (let i = 0; i < columns; i++) {
      x[row + i] = (x[row + i] - mean) * scale * weight[i] + bias[i];
    }
  }
}

// x (tokens x inputs) W^T + b: W (outputs x inputs) is read once, row by row, for all tokens.
// Four running sums let the multiply-adds overlap; `inputs` is a multiple of 4 (checked).
function linear(x, tokens, { weight, bias, inputs, outputs }) {
  const out = new Float32Array(tokens * outputs);
  for (let o = 0; o < outputs; o++) {
    const w = o * inputs;
    for (let t = 0; t < tokens; t++) {
      const row = t * inputs;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < inputs; i += 4) {
        s0 += x[row + i] * weight[w + i];
        s1 += x[row + i + 1] * weight[w + i + 1];
        s2 += x[row + i + 2] * weight[w + i + 2];
        s3 += x[row + i + 3] * weight[w + i + 3];
      }
      out[t * outputs + o] = s0 + s1 + s2 + s3 + bias[o];
    }
  }
  return out;
}

// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), as layers.gelu and the
// WGSL kernel compute it.
function erf(z) {
  const t = 1 / (1 + 0.3275911 * Math.abs(z));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
    t * (-1.453152027 + t * 1.061405429))));
  const magnitude = 1 - poly * Math.exp(-z * z);
  return z < 0 ? -magnitude : magnitude;
}

function gelu(x) {
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2));
}

// Every token attends to every token of the text: (tokens x hidden) in and out.
function attention(q, k, v, tokens, heads, headDim) {
  const hidden = heads * headDim;
  const context = new Float32Array(tokens * hidden);
  const scores = new Float32Array(tokens);
  const scale = 1 / Math.sqrt(headDim);
  for (let h = 0; h < heads; h++) {
    const head = h * headDim;
    for (let i = 0; i < tokens; i++) {
      const query = i * hidden + head;
      let max = -Infinity;
      for (let j = 0; j < tokens; j++) {
        const key = j * hidden + head;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[query + d] * k[key + d];
        scores[j] = dot * scale;
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j < tokens; j++) sum += scores[j] = Math.exp(scores[j] - max);
      for (let j = 0; j < tokens; j++) {
        const weight = scores[j] / sum;
        const value = j * hidden + head;
        for (let d = 0; d < headDim; d++) context[query + d] += weight * v[value + d];
      }
    }
  }
  return context;
}

function add(x, y) {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

export class CpuEmbedder {
  // manifest: the package's manifest; shards: its shards' bytes (Uint8Array each).
  constructor(manifest, shards) {
    if (manifest.architecture !== "bert") {
      throw new Error(`the CPU embedder runs BERT models, not ${manifest.architecture}`);
    }
    this.config = manifest.config;
    const { hidden_size: hidden, intermediate_size: intermediate } = this.config;
    if (hidden % 4 || intermediate % 4) {
      const widths = `${hidden} and ${intermediate}`;
      throw new Error(`the CPU embedder needs widths that are multiples of 4, not ${widths}`);
    }
    this.tokenizer = new WordPieceTokenizer(manifest.tokenizer);
    const tensors = Object.fromEntries(
      Object.entries(manifest.tensors).map(([name, entry]) => [
        name,
        new StoredTensor(entry, tensorBytes(entry, shards)),
      ]),
    );
    // A copy, so that the shards' memory is freed once the other weights are dequantized.
    const words = tensors[WORD_EMBEDDINGS];
    this.wordEmbeddings = new StoredTensor(manifest.tensors[WORD_EMBEDDINGS], words.bytes.slice());
    this.weights = {};
    for (const [name, tensor] of Object.entries(tensors)) {
      if (name !== WORD_EMBEDDINGS) this.weights[name] = tensor.dequantize();
    }
    this.shapes = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, t.shape]));
  }

  // Downloads (or reads from Cache Storage) and verifies the package, as the GPU path does.
  static async load(manifestUrl, { onProgress, onWarning } = {}) {
    const { manifest, shards } = await loadModel(manifestUrl, { onProgress, onWarning });
    return new CpuEmbedder(manifest, shards);
  }

  // The unit vector of `text` (a string, or token ids with [CLS] and [SEP]).
  embed(text) {
    const ids = typeof text === "string" ? this.tokenizer.encode(text) : text;
    if (ids.length > this.config.max_positions) {
      throw new Error(`a text is longer than ${this.config.max_positions} tokens`);
    }
    const x = this.embeddings(ids);
    for (let layer = 0; layer < this.config.num_layers; layer++) {
      this.layer(x, ids.length, `encoder.layer.${layer}.`);
    }
    return normalized(this.pooled(x, ids.length));
  }

  embeddings(ids) {
    const hidden = this.config.hidden_size;
    const x = new Float32Array(ids.length * hidden);
    ids.forEach((id, t) => this.wordEmbeddings.dequantizeRows(id, 1, x, t * hidden));
    const positions = this.weights["embeddings.position_embeddings.weight"];
    add(x, positions.subarray(0, x.length));
    // One segment: every token has token type 0.
    const tokenType = this.weights["embeddings.token_type_embeddings.weight"];
    for (let t = 0; t < ids.length; t++) add(x.subarray(t * hidden, (t + 1) * hidden), tokenType);
    this.layerNorm(x, "embeddings.LayerNorm");
    return x;
  }

  // One post-LN encoder layer, x (tokens x hidden) updated in place.
  layer(x, tokens, prefix) {
    const { num_heads: heads, hidden_size: hidden } = this.config;
    const [q, k, v] = ["query", "key", "value"].map((name) =>
      linear(x, tokens, this.dense(`${prefix}attention.self.${name}`)),
    );
    const context = attention(q, k, v, tokens, heads, hidden / heads);
    add(x, linear(context, tokens, this.dense(`${prefix}attention.output.dense`)));
    this.layerNorm(x, `${prefix}attention.output.LayerNorm`);
    const intermediate = linear(x, tokens, this.dense(`${prefix}intermediate.dense`));
    gelu(intermediate);
    add(x, linear(intermediate, tokens, this.dense(`${prefix}output.dense`)));
    this.layerNorm(x, `${prefix}output.LayerNorm`);
  }

  dense(module) {
    const [outputs, inputs] = this.shapes[`${module}.weight`];
    const { [`${module}.weight`]: weight, [`${module}.bias`]: bias } = this.weights;
    return { weight, bias, inputs, outputs };
  }

  layerNorm(x, module) {
    const { [`${module}.weight`]: weight, [`${module}.bias`]: bias } = this.weights;
    layerNorm(x, this.config.hidden_size, weight, bias, this.config.layer_norm_eps);
  }

  pooled(x, tokens) {
    const hidden = this.config.hidden_size;
    if (this.config.pooling === "cls") return x.slice(0, hidden);
    const sum = new Float32Array(hidden);
    for (let t = 0; t < tokens; t++) add(sum, x.subarray(t * hidden, (t + 1) * hidden));
    return sum.map((value) => value / tokens);
  }
}

function normalized(vector) {
  let norm = 0;
  for (const value of vector) norm += value * value;
  return vector.map((value) => value / Math.max(Math.sqrt(norm), 1e-12));
}
