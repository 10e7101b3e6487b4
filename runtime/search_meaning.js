// Meaning-based search: query vectors from the site's embedder, merged with the keyword
// results by the index's rank fusion. The embedder is a download of tens of megabytes, so
// it is never fetched behind the reader's back: it loads when its shards already sit in
// Cache Storage, when the assistant panel loads it (the load is shared through the site),
// or when the reader asks for it. Without WebGPU the search stays keyword-only, quietly.

const KEPT_VECTORS = 64; // query vectors remembered, so retyping a query costs nothing

export class MeaningSearch {
  // `onChange()` hears every change of `state`, `progress` or `error`.
  constructor(site, onChange) {
    this.site = site;
    this.onChange = onChange;
    this.model = site.assistant?.models?.embedder ?? null;
    // "unavailable" | "offer" | "loading" | "ready" | "failed"
    this.state = this.model && globalThis.navigator?.gpu ? "offer" : "unavailable";
    this.progress = null; // {loaded, total, source} while loading
    this.error = null;
    this.loading = null;
    this.vectors = new Map(); // query -> Float32Array
    this.queue = Promise.resolve(); // one embedding at a time, newest query first
    this.wanted = null;
    this.cached = null; // promise: are the embedder's shards in Cache Storage?
    if (this.state === "unavailable") return;
    site.addEventListener("model-loading", ({ detail }) => {
      if (detail.role === "embedder") this.track(detail.loading);
    });
    const running = site.loadingModel("embedder");
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
    if (this.state === "offer" || this.state === "failed") {
      this.track(this.site.loadModel("embedder"));
    }
  }

  // Follows a load of the embedder, whoever started it.
  track(loading) {
    if (loading === this.loading) return;
    this.loading = loading;
    this.site.loadModel("embedder", (progress) => {
      this.progress = progress;
      this.onChange();
    });
    this.set("loading");
    loading.then(
      () => this.loading === loading && this.set("ready"),
      (error) => this.loading === loading && this.fail(error),
    );
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
      const [vector] = await (await this.site.runtime()).embed([query]);
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
}
