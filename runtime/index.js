// The page's side of the runtime: starts the worker and turns its messages into promises
// and callbacks.
//
//   const rt = await createRuntime();      // the runtime folder of this module by default
//   await rt.load({manifestUrl, programUrl}, ({loaded, total}) => showProgress(loaded, total));
//   const {tokens, text} = await rt.generate("prompt text or ids", {maxTokens: 64},
//                                            (token, text) => append(text));
//   rt.stop();
//   const vectors = await rt.embed(["a text"], {model: "embedder"});

export class RuntimeError extends Error {
  name = "RuntimeError";
}

class Runtime {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map(); // request id -> {resolve, reject, onEvent}
    this.nextRequest = 1;
    this.onDeviceLost = () => {};
    worker.onmessage = ({ data }) => this.receive(data);
    worker.onerror = (event) => this.failAll(event.message || "the runtime worker failed to start");
  }

  receive(event) {
    if (event.type === "device-lost") return this.onDeviceLost(event.message);
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

  // Resolves with {model, subgroups, cpu, adapter}; onProgress({loaded, total, source}).
  load({ manifestUrl, programUrl, model = "generator" }, onProgress = () => {}) {
    const absolute = (url) => new URL(url, document.baseURI).href;
    const message = {
      type: "load",
      model,
      manifestUrl: absolute(manifestUrl),
      programUrl: absolute(programUrl),
    };
    return this.call(message, ["ready"], ({ type, loaded, total, source }) => {
      if (type === "progress") onProgress({ loaded, total, source });
    });
  }

  // `prompt`: text, or token ids. Resolves with {tokens, text, reason}.
  generate(prompt, settings = {}, onToken = () => {}, { model = "generator" } = {}) {
    const message = { type: "generate", model, prompt, settings };
    return this.call(message, ["done"], ({ type, token, text }) => {
      if (type === "token") onToken(token, text);
    });
  }

  stop() {
    this.worker.postMessage({ type: "stop" });
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

  terminate() {
    this.worker.terminate();
    this.failAll("the runtime was shut down");
  }
}

export async function createRuntime(baseUrl = new URL(".", import.meta.url)) {
  const worker = new Worker(new URL("worker.js", baseUrl), { type: "module" });
  return new Runtime(worker);
}
