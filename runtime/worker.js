// The Web Worker that owns the GPU, so the page never freezes while a model runs.
//
// Messages in (each may carry `request`, echoed in the replies; `model` names a loaded model,
// default "generator"):
//   {type: "load", model, manifestUrl, programUrl}  -> progress {loaded, total} ... ready | error
//   {type: "generate", model, prompt: ids or text, settings}  -> token {token, text} ... done
//   {type: "stop"}                    ends the running generation (its done says "stopped")
//   {type: "embed", model, texts: strings or id lists}  -> vectors {vectors}
//   {type: "read", model, buffer}    -> buffer {data: ArrayBuffer} (debugging and tests)
// A lost GPU device is re-created and every model reloaded (from Cache Storage): the worker
// sends device-lost {message}, then ready for each model again.

import { Executor } from "./executor.js";
import { generate, embed } from "./generate.js";
import { openGpu } from "./gpu.js";
import { loadModel } from "./loader.js";
import { BpeTokenizer } from "./tokenizer_bpe.js";
import { WordPieceTokenizer } from "./tokenizer_wordpiece.js";

const SHADERS = new URL("../shaders/", import.meta.url);
const TOKENIZERS = { "byte-level-bpe": BpeTokenizer, wordpiece: WordPieceTokenizer };

const models = {}; // name -> {executor, tokenizer, source: the load message}
let gpu = null;
let stopRequested = false;
let gpuWork = Promise.resolve(); // one task at a time: programs share buffers between runs

function serialized(task) {
  const run = gpuWork.then(task);
  gpuWork = run.catch(() => {});
  return run;
}

async function device() {
  gpu ??= openGpu({ onLost: recover });
  return gpu;
}

async function load({ model = "generator", manifestUrl, programUrl }, reply) {
  const [{ manifest, shards }, program] = await Promise.all([
    loadModel(new URL(manifestUrl, self.location).href, {
      onProgress: ({ loaded, total, source }) => reply({ type: "progress", loaded, total, source }),
      onWarning: (message) => reply({ type: "warning", message }),
    }),
    fetch(new URL(programUrl, self.location)).then((response) => {
      if (!response.ok) throw new Error(`${programUrl} could not be loaded (${response.status})`);
      return response.json();
    }),
  ]);
  const Tokenizer = TOKENIZERS[manifest.tokenizer?.type];
  const executor = await Executor.create(await device(), program, manifest, shards, SHADERS);
  models[model]?.executor.destroy(); // a reload replaces the model
  models[model] = {
    executor,
    tokenizer: Tokenizer ? new Tokenizer(manifest.tokenizer) : null,
    source: { model, manifestUrl, programUrl },
  };
  const { subgroups, cpu, adapter } = executor.gpu;
  reply({ type: "ready", model, subgroups, cpu, adapter });
}

function loaded(name = "generator") {
  const model = models[name];
  if (!model) throw new Error(`model ${name} is not loaded`);
  return model;
}

function tokenIds(model, input) {
  if (typeof input !== "string") return input;
  if (!model.tokenizer) throw new Error("this model has no tokenizer: send token ids");
  return model.tokenizer.encode(input);
}

async function runGeneration({ model: name, prompt, settings = {} }, reply) {
  const model = loaded(name);
  stopRequested = false;
  const stream = model.tokenizer?.streamDecoder();
  const result = await generate(model.executor, tokenIds(model, prompt), settings, {
    onToken: (token) => reply({ type: "token", token, text: stream?.push(token) ?? "" }),
    shouldStop: () => stopRequested,
    textOf: model.tokenizer && ((ids) => model.tokenizer.decode(ids)),
  });
  reply({ type: "done", ...result, text: model.tokenizer?.decode(result.tokens) ?? "" });
}

async function runEmbedding({ model: name = "embedder", texts }, reply) {
  const model = loaded(name);
  const vectors = await embed(model.executor, texts.map((text) => tokenIds(model, text)));
  reply({ type: "vectors", vectors }, vectors.map((vector) => vector.buffer));
}

async function readBuffer({ model: name, buffer }, reply) {
  const data = await loaded(name).executor.read(buffer);
  reply({ type: "buffer", data }, [data]);
}

async function recover(message) {
  postMessage({ type: "device-lost", message });
  gpu = null;
  for (const { source } of Object.values(models)) {
    await serialized(() => load(source, (event) => postMessage(event))).catch((error) => {
      postMessage({ type: "error", model: source.model, message: String(error.message ?? error) });
    });
  }
}

const HANDLERS = { load, generate: runGeneration, embed: runEmbedding, read: readBuffer };

self.onmessage = async ({ data }) => {
  const reply = (event, transfer = []) => {
    postMessage({ request: data.request, ...event }, transfer);
  };
  if (data.type === "stop") {
    stopRequested = true;
    return;
  }
  const handler = HANDLERS[data.type];
  try {
    if (!handler) throw new Error(`unknown message type ${data.type}`);
    await serialized(() => handler(data, reply));
  } catch (error) {
    reply({ type: "error", message: String(error.message ?? error) });
  }
};
