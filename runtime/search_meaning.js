// Meaning-based search: query vectors from the site's embedder, merged with the keyword
// results by the index's rank fusion. The embedder is a download of tens of megabytes, so
// it is never fetched behind the reader's back: it loads when its shards already sit in
// Cache Storage, when the assistant panel loads it (the load is shared through the site),
// or when the reader asks for it. It runs on the GPU where WebGPU works; elsewhere (no
// navigator.gpu, no adapter, a lost device) queries are embedded on the CPU in a worker
// (cpu_worker.js), from the same files: the chunks' vectors come from the index either way.

const KEPT_VECTORS = 64; // query vectors remembered, so retyping a query costs nothing

// The CPU embedder of a site, one worker per page, shared by the search box and the panel.
class CpuQueryEmbedder {
  constructor(site) {
    this.site = site;
    this.worker = null;
    this.loading = null; // promise: the model is loaded in the worker
    this.listeners = new Set(); // onProgress callbacks of the load under way
    this.pending = new Map(); // request id -> {resolve, reject, onEvent}
    this.nextRequest = 1;
  }

  call(message, onEvent = () => {}) {
    this.worker ??= this.startWorker();
    const request = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.pending.set(request, { resolve, reject, onEvent });
      this.worker.postMessage({ ...message, request });
    });
  }

  startWorker() {
    const worker = new Worker(new URL("cpu_worker.js", import.meta.url), { type: "module" });
    worker.onmessage = ({ data }) => {
      const request = this.pending.get(data.request);
      if (data.type === "progress" || data.type === "warning") return request?.onEvent(data);
      this.pending.delete(data.request);
      if (data.type === "error") request?.reject(new Error(data.message));
      else request?.resolve(data);
    };
    return worker;
  }

  // Loads the model once (a failed load is forgotten); every caller's onProgress hears bytes.
  load(onProgress = () => {}) {
    this.listeners.add(onProgress);
    if (!this.loading) {
      const manifestUrl = this.site.url(this.site.assistant.models.embedder.manifest);
      const loading = this.call({ type: "load", manifestUrl }, (event) => {
        if (event.type === "progress") this.listeners.forEach((listener) => listener(event));
        else this.warn(event.message);
      });
      loading.catch(() => (this.loading = null));
      loading.finally(() => this.listeners.clear()).catch(() => {});
      this.loading = loading;
    }
    return this.loading;
  }

  warn(message) {
    const detail = { role: "embedder", message };
    this.site.dispatchEvent(new CustomEvent("model-warning", { detail }));
  }

  async embed(text) {
    await this.loading;
    return (await this.call({ type: "embed", text })).vector;
  }
}

const cpuEmbedders = new WeakMap(); // site -> CpuQueryEmbedder

function cpuEmbedder(site) {
  if (!cpuEmbedders.has(site)) cpuEmbedders.set(site, new CpuQueryEmbedder(site));
  return cpuEmbedders.get(site);
}

// The vector of `text` from the CPU embedder where that costs no download (it is loaded, or
// its shards are in Cache Storage), else null: for the assistant's answers without a model.
export async function cachedQueryVector(site, text) {
  if (!site.assistant?.models?.embedder) return null;
  const embedder = cpuEmbedder(site);
  if (!embedder.loading && !(await site.modelCached("embedder"))) return null;
  try {
    await embedder.load();
    return await embedder.embed(text);
  } catch {
    return null; // keyword-only, as without the embedder
  }
}

export class MeaningSearch {
  // `onChange()` hears every change of `state`, `progress` or `error`.
  constructor(site, onChange) {
    this.site = site;
    this.onChange = onChange;
    this.model = site.assistant?.models?.embedder ?? null;
    // "unavailable" | "offer" | "loading" | "ready" | "failed"
    this.state = this.model ? "offer" : "unavailable";
    this.onCpu = !globalThis.navigator?.gpu; // switched on too when the GPU path fails
    this.progress = null; // {loaded, total, source} while loading
    this.error = null;
    this.loading = null;
    this.vectors = new Map(); // query -> Float32Array
    this.queue = Promise.resolve(); // one embedding at a time, newest query first
    this.wanted = null;
    this.cached = null; // promise: are the embedder's shards in Cache Storage?
    if (this.state === "unavailable") return;
    site.addEventListener("model-loading", ({ detail }) => {
      if (detail.role === "embedder" && !this.onCpu) this.track(detail.loading);
    });
    const running = this.onCpu ? cpuEmbedder(site).loading : site.loadingModel("embedder");
    if (running) this.track(running);
  }

  get downloadBytes() {
    return this.model?.download_bytes ?? 0;
  }

  // Loads the embedder when doing so downloads nothing (looked up once per page).
  async startIfCached() {
    this.cached ??= this.site.modelCached("embedder");
    if (this.state === "offer" && (await this.cached)) this.start();
  }

  // The reader opted in (or the model is cached): load it, or share the load under way.
  start() {
    if (this.state === "offer" || this.state === "failed") this.track(this.load());
  }

  // The load of the embedder on the GPU or the CPU, started once per page and shared.
  load(onProgress) {
    if (this.onCpu) return cpuEmbedder(this.site).load(onProgress);
    return this.site.loadModel("embedder", onProgress);
  }

  // Follows a load of the embedder, whoever started it; a failed GPU load (no adapter)
  // hands over to the CPU.
  track(loading) {
    if (loading === this.loading) return;
    this.loading = loading;
    this.load((progress) => {
      this.progress = progress;
      this.onChange();
    });
    this.set("loading");
    loading.then(
      () => this.loading === loading && this.set("ready"),
      (error) => this.loading === loading && (this.onCpu ? this.fail(error) : this.useCpu()),
    );
  }

  useCpu() {
    this.onCpu = true;
    this.track(this.load());
    return this.loading;
  }

  set(state) {
    this.state = state;
    this.onChange();
  }

  fail(error) {
    this.loading = null;
    this.error = error.message || String(error);
    this.set("failed");
  }

  // The query's vector, or null when a newer query was asked for before its turn came.
  vector(query) {
    this.wanted = query;
    const turn = this.queue.then(async () => {
      if (this.vectors.has(query)) return this.vectors.get(query);
      if (this.wanted !== query) return null;
      const vector = await this.embed(query);
      if (this.vectors.size >= KEPT_VECTORS) this.vectors.clear();
      this.vectors.set(query, vector);
      return vector;
    });
    this.queue = turn.catch(() => {});
    return turn.catch((error) => {
      this.fail(error);
      return null;
    });
  }

  // On the GPU while it works; a GPU that fails (its device lost for good) hands over to
  // the CPU.
  async embed(query) {
    if (!this.onCpu) {
      try {
        const [vector] = await (await this.site.runtime()).embed([query]);
        return vector;
      } catch {
        await this.useCpu();
      }
    }
    return cpuEmbedder(this.site).embed(query);
  }
}
