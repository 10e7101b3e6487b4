// The runtime's core, free of any Web Worker or page API: it owns the GPU device, the loaded
// models and their KV caches, and runs one GPU task at a time. Its methods are those of the
// page's runtime (index.js), with results handed over directly instead of as messages.
// worker.js wraps it for the browser; under Node (the npm `webgpu` package) it is used
// directly:
//
//   import { create, globals } from "webgpu";
//   import { Session } from "./session.js";
//   Object.assign(globalThis, globals);          // GPUBufferUsage, GPUMapMode
//   const session = new Session({ gpuApi: create([]), baseUrl: "http://host/docs/" });
//   await session.load({ manifestUrl, programUrl, model: "generator" });
//   const { tokens, text } = await session.generate("text or token ids", { maxTokens: 64 });
//   await session.close();
//
// URLs are read relative to `baseUrl`; under Node they must be http(s) (its fetch reads no
// file: URLs), shaders included: pass `shaderUrl`. Events that belong to no request reach
// `onEvent`: device-lost {message}, then device-restored {models} once every model is loaded
// again on a new device (from Cache Storage where the environment has one), or
// device-failed {message} when that fails.

import { compilePipelines, Executor, untimed } from "./executor.js";
import { embed, generate } from "./generate.js";
import { openGpu } from "./gpu.js";
import { loadModel } from "./loader.js";
import { BpeTokenizer } from "./tokenizer_bpe.js";
import { SpmTokenizer } from "./tokenizer_spm.js";
import { WordPieceTokenizer } from "./tokenizer_wordpiece.js";

const TOKENIZERS = {
  "byte-level-bpe": BpeTokenizer,
  spm: SpmTokenizer,
  wordpiece: WordPieceTokenizer,
};

// A load's `time(phase, work, detail)`: runs `work` (sync or async) and, where someone listens,
// reports {model, phase, start, end, ...detail(result)} to `onPhase` (performance.now() ms).
function phaseTimer(model, onPhase) {
  if (!onPhase) return untimed;
  return (phase, work, detail = () => ({})) => {
    const start = performance.now();
    const report = (result) => {
      onPhase({ model, phase, start, end: performance.now(), ...detail(result) });
      return result;
    };
    const result = work();
    return result instanceof Promise ? result.then(report) : report(result);
  };
}

async function fetchProgram(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} could not be loaded (HTTP ${response.status})`);
  return response.json();
}

// `error`, or when `device` was lost meanwhile (its lost promise settles within a moment of
// the failure it caused), an error that says so.
async function explainLoss(error, device) {
  const moment = new Promise((resolve) => setTimeout(resolve, 100));
  const lost = await Promise.race([device.lost, moment]);
  if (!lost) return error;
  return new Error(
    `the GPU device was lost during this request (${lost.message}): the models are being ` +
      "reloaded; ask again once they are ready",
  );
}

export class Session {
  constructor({
    gpuApi = globalThis.navigator?.gpu,
    baseUrl = globalThis.location?.href,
    shaderUrl = new URL("../shaders/", import.meta.url),
    onEvent = () => {},
  } = {}) {
    this.gpuApi = gpuApi;
    this.baseUrl = baseUrl;
    this.shaderUrl = new URL(shaderUrl, baseUrl);
    this.onEvent = onEvent;
    this.models = {}; // name -> {executor, tokenizer, contextLength, cached, source}
    this.gpu = null; // promise of openGpu's result
    this.stopRequested = false;
    this.work = Promise.resolve(); // programs share buffers between runs: one task at a time
    this.loads = {}; // name -> the model's latest load, settled once it is in place or failed
  }

  serialized(task) {
    const run = this.work.then(task);
    this.work = run.catch(() => {});
    return run;
  }

  device() {
    if (!this.gpu) {
      this.gpu = openGpu({ gpuApi: this.gpuApi, onLost: (message) => this.recover(message) });
      this.gpu.catch(() => (this.gpu = null)); // the next task tries again
    }
    return this.gpu;
  }

  // Resolves with {model, subgroups, cpu, adapter, contextLength}. onProgress({loaded,
  // total, source}) hears the bytes; onWarning(message) problems that do not stop the load;
  // onPhase({model, phase, start, end, created}) when each part of the load began and ended
  // (`created`: how many pipelines it made, the others being shared).
  load({ model = "generator", manifestUrl, programUrl }, onProgress, onWarning, onPhase) {
    const source = {
      model,
      manifestUrl: new URL(manifestUrl, this.baseUrl).href,
      programUrl: new URL(programUrl, this.baseUrl).href,
    };
    const hooks = { onProgress, onWarning, time: phaseTimer(model, onPhase) };
    // Models load side by side; only putting one in place takes its turn, as a reload
    // replaces a model that a running task may be using.
    const loading = this.prepare(source, hooks).then((prepared) =>
      this.serialized(() => this.install(prepared, hooks)),
    );
    this.loads[model] = loading.catch(() => {}); // requests for the model wait for it
    return loading;
  }

  async loadNow(source, hooks) {
    return this.install(await this.prepare(source, hooks), hooks);
  }

  // Everything a model needs on this device: pipelines compiled while the shards download
  // (or come out of Cache Storage), the tokenizer built while both are under way.
  async prepare(source, { onProgress = () => {}, onWarning = () => {}, time = untimed } = {}) {
    const { manifestUrl, programUrl } = source;
    // Before any download: without a GPU, nothing to fetch.
    const gpu = await time("device", () => this.device());
    const fetched = time("program", () => fetchProgram(programUrl));
    const compiled = fetched.then((program) =>
      compilePipelines(gpu, program, this.shaderUrl, time),
    );
    let tokenizer = null;
    const onManifest = (manifest) => {
      const Tokenizer = TOKENIZERS[manifest.tokenizer?.type];
      if (Tokenizer) tokenizer = time("tokenizer", () => new Tokenizer(manifest.tokenizer));
    };
    const read = loadModel(manifestUrl, { onProgress, onWarning, onManifest, time });
    const [program, pipelines, { manifest, shards }] = await Promise.all([fetched, compiled, read]);
    const executor = Executor.create(gpu, program, manifest, shards, pipelines, time);
    return { source, gpu, executor, tokenizer, contextLength: program.context_length };
  }

  // Puts a prepared model in place (a reload replaces it). One prepared on a device lost
  // meanwhile is prepared again on the new one.
  async install({ source, gpu, executor, tokenizer, contextLength }, hooks) {
    if (gpu !== (await this.device())) {
      executor.destroy();
      return this.loadNow(source, hooks);
    }
    const { model } = source;
    this.models[model]?.executor.destroy();
    this.models[model] = {
      executor,
      tokenizer,
      contextLength, // positions of the KV cache (decoders)
      cached: [], // token ids whose keys and values the KV cache holds, in order
      source,
    };
    if (source.adapterUrl) await this.applyAdapter(this.models[model], source.adapterUrl);
    const { subgroups, cpu, adapter } = gpu;
    return { model, subgroups, cpu, adapter, contextLength };
  }

  // Switches `model`'s LoRA adapter: `manifestUrl` of an adapter package (the site's
  // settings.adapters), or null for the base model alone. Only the adapter's own bytes
  // load (from Cache Storage after the first time, from memory after that); the KV cache
  // starts over, as it holds keys and values of the other weights. Resolves with {adapter}.
  useAdapter(manifestUrl, { model = "generator" } = {}) {
    const url = manifestUrl && new URL(manifestUrl, this.baseUrl).href;
    return this.withModel(model, async (loaded) => {
      await this.applyAdapter(loaded, url);
      loaded.source = { ...loaded.source, adapterUrl: url };
      return { adapter: url };
    });
  }

  async applyAdapter(loaded, url) {
    loaded.adapters ??= new Map();
    if (url && !loaded.adapters.has(url)) loaded.adapters.set(url, await loadModel(url));
    loaded.executor.useAdapter(url ? loaded.adapters.get(url) : null);
    loaded.cached.length = 0;
  }

  // Runs `task(model)` in turn. A failure leaves the KV cache unknown (it may hold a
  // half-run step); one caused by a device loss says so, as WebGPU's own message is empty.
  async withModel(name, task) {
    await this.loads[name]; // a request made while its model loads waits for it
    return this.serialized(async () => {
      const model = this.models[name];
      if (!model) throw new Error(`model ${name} is not loaded`);
      try {
        return await task(model);
      } catch (error) {
        model.cached.length = 0;
        throw await explainLoss(error, model.executor.gpu.device);
      }
    });
  }

  tokenIds(model, input) {
    if (typeof input !== "string") return input;
    if (!model.tokenizer) throw new Error("this model has no tokenizer: send token ids");
    return model.tokenizer.encode(input);
  }

  // `prompt`: text, or token ids. Resolves with {tokens, text, reason, reused}: `reused`
  // prompt tokens were in the KV cache from an earlier generation and were not run again.
  // `onToken(token, text)` hears each new token and the whole characters it completes.
  generate(prompt, settings = {}, onToken = () => {}, { model = "generator" } = {}) {
    return this.withModel(model, async (loaded) => {
      this.stopRequested = false; // a stop sent before this task began was for an earlier one
      const { executor, tokenizer, cached, contextLength } = loaded;
      const stream = tokenizer?.streamDecoder();
      const result = await generate(executor, this.tokenIds(loaded, prompt), settings, {
        onToken: (token) => onToken(token, stream?.push(token) ?? ""),
        shouldStop: () => this.stopRequested,
        textOf: tokenizer && ((ids) => tokenizer.decode(ids)),
        cached,
        contextLength,
      });
      return { ...result, text: tokenizer?.decode(result.tokens) ?? "" };
    });
  }

  stop() {
    this.stopRequested = true;
  }

  // One Float32Array per text (strings, or token id lists).
  embed(texts, { model = "embedder" } = {}) {
    return this.withModel(model, (loaded) =>
      embed(
        loaded.executor,
        texts.map((text) => this.tokenIds(loaded, text)),
      ),
    );
  }

  // A program buffer's bytes, e.g. "logits" (for tests and debugging).
  debugRead(buffer, { model = "generator" } = {}) {
    return this.withModel(model, ({ executor }) => executor.read(buffer));
  }

  // Destroys the device as a GPU reset or driver crash would, and resolves once the runtime
  // has heard of it: requests made from then on wait for the models to be reloaded.
  async debugLoseDevice() {
    const { device } = await this.device();
    device.destroy();
    await device.lost; // openGpu's own handler, registered first, has run by now
  }

  // A new device, then every model loaded again; queued so that requests made meanwhile
  // run on the restored models.
  recover(message) {
    this.gpu = null;
    this.onEvent({ type: "device-lost", message });
    this.serialized(async () => {
      const sources = Object.values(this.models).map((model) => model.source);
      // A model that fails to come back is no longer loaded, rather than bound to a dead device.
      for (const model of Object.values(this.models)) model.executor.destroy();
      this.models = {};
      for (const source of sources) await this.loadNow(source);
      this.onEvent({ type: "device-restored", models: sources.map((source) => source.model) });
    }).catch((error) => {
      const reason = String(error.message ?? error);
      this.onEvent({
        type: "device-failed",
        message: `the models could not be reloaded: ${reason}`,
      });
    });
  }

  // Frees the GPU memory and the device; the session is unusable afterwards.
  async close() {
    await this.work;
    for (const model of Object.values(this.models)) model.executor.destroy();
    this.models = {};
    (await this.gpu)?.close();
    this.gpu = null;
  }
}
