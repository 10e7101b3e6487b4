// The page's side of the runtime: starts the worker and turns its messages into promises
// and callbacks. (Node and other hosts without Web Workers use session.js directly.)
//
//   const rt = await createRuntime();      // the runtime folder of this module by default
//   await rt.load({manifestUrl, programUrl}, ({loaded, total}) => showProgress(loaded, total));
//   // -> {model, subgroups, cpu, adapter, contextLength (decoders)}
//   const {tokens, text, reason, reused} = await rt.generate("prompt text or ids",
//                                       {maxTokens: 64}, (token, text) => append(text));
//   rt.stop();
//   const vectors = await rt.embed(["a text"], {model: "embedder"});
//
// A generation's KV cache is kept: a prompt that starts with the previous prompt and answer
// (a follow-up question sent with the conversation) runs only its new tokens; `reused` counts
// the ones skipped. A prompt longer than `contextLength` is refused with an error; the
// generation ends with reason "context-full" when the context fills up.
//
// The GPU device can be lost (driver reset, GPU switched off): the runtime then opens a new
// one and reloads every model from Cache Storage, and tells the page through events:
//   rt.addEventListener("device-lost", ({detail: {message}}) => ...);    // models unusable
//   rt.addEventListener("device-restored", ({detail: {models}}) => ...); // ready again
//   rt.addEventListener("device-failed", ({detail: {message}}) => ...);  // reload failed
// rt.onDeviceLost(message) hears the first as well. Requests made meanwhile wait for the
// reload. rt.debugLoseDevice() destroys the device, to test this.

export class RuntimeError extends Error {
  name = "RuntimeError";
}

const DEVICE_EVENTS = ["device-lost", "device-restored", "device-failed"];

class Runtime extends EventTarget {
  constructor(worker) {
    super();
    this.worker = worker;
    this.pending = new Map(); // request id -> {resolve, reject, onEvent}
    this.nextRequest = 1;
    this.onDeviceLost = () => {};
    worker.onmessage = ({ data }) => this.receive(data);
    worker.onerror = (event) => this.failAll(event.message || "the runtime worker failed to start");
  }

  receive(event) {
    if (DEVICE_EVENTS.includes(event.type)) {
      const { type, ...detail } = event;
      if (type === "device-lost") this.onDeviceLost(event.message);
      this.dispatchEvent(new CustomEvent(type, { detail }));
      return;
    }
    const request = this.pending.get(event.request);
    if (!request) return;
    if (event.type === "error") {
      this.pending.delete(event.request);
      request.reject(new RuntimeError(event.message));
    } else if (request.final.includes(event.type)) {
      this.pending.delete(event.request);
      request.resolve(event);
    } else {
      request.onEvent(event);
    }
  }

  failAll(message) {
    for (const request of this.pending.values()) request.reject(new RuntimeError(message));
    this.pending.clear();
  }

  call(message, final, onEvent = () => {}) {
    const request = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.pending.set(request, { resolve, reject, onEvent, final });
      this.worker.postMessage({ ...message, request });
    });
  }

  // Resolves with {model, subgroups, cpu, adapter, contextLength};
  // onProgress({loaded, total, source}); onWarning(message) hears trouble the load got past,
  // e.g. shards that could not be stored for the next visit (storage full).
  load({ manifestUrl, programUrl, model = "generator" }, onProgress = () => {}, onWarning = () => {}) {
    const absolute = (url) => new URL(url, document.baseURI).href;
    const message = {
      type: "load",
      model,
      manifestUrl: absolute(manifestUrl),
      programUrl: absolute(programUrl),
    };
    return this.call(message, ["ready"], ({ type, loaded, total, source, message: warning }) => {
      if (type === "progress") onProgress({ loaded, total, source });
      if (type === "warning") onWarning(warning);
    });
  }

  // `prompt`: text, or token ids. Resolves with {tokens, text, reason, reused}.
  generate(prompt, settings = {}, onToken = () => {}, { model = "generator" } = {}) {
    const message = { type: "generate", model, prompt, settings };
    return this.call(message, ["done"], ({ type, token, text }) => {
      if (type === "token") onToken(token, text);
    });
  }

  stop() {
    this.worker.postMessage({ type: "stop" });
  }

  // Turns a LoRA adapter on (the URL of its package's manifest) or off (null); only its
  // own bytes load, the model stays.
  useAdapter(manifestUrl, { model = "generator" } = {}) {
    const url = manifestUrl && new URL(manifestUrl, document.baseURI).href;
    return this.call({ type: "use-adapter", model, manifestUrl: url }, ["adapter"]);
  }

  // One Float32Array per text (strings, or token id lists).
  async embed(texts, { model = "embedder" } = {}) {
    const { vectors } = await this.call({ type: "embed", model, texts }, ["vectors"]);
    return vectors;
  }

  // A program buffer's bytes, e.g. "logits" (for tests and debugging).
  async debugRead(buffer, { model = "generator" } = {}) {
    const { data } = await this.call({ type: "read", model, buffer }, ["buffer"]);
    return data;
  }

  // Destroys the GPU device as a driver reset would; resolves once the runtime has heard of
  // it (the device-lost event has come), so requests made from then on wait for the reload.
  async debugLoseDevice() {
    await this.call({ type: "lose-device" }, ["device-destroyed"]);
  }

  terminate() {
    this.worker.terminate();
    this.failAll("the runtime was shut down");
  }
}

export async function createRuntime(baseUrl = new URL(".", import.meta.url)) {
  const worker = new Worker(new URL("worker.js", baseUrl), { type: "module" });
  return new Runtime(worker);
}
