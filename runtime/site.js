// The site as the page's features see it: the entry file every page names in
// <meta name="pagemind">, the assistant's settings, and one runtime worker shared by the
// search box and the assistant panel.
//
//   const site = await loadSite();
//   site.index        // the search index description, or null
//   site.assistant    // assistant.<hash>.json's content, or null when the assistant is off
//   site.url("index/terms/0.1a2b.json")  // an absolute URL for a path relative to _pagemind/
//   const index = await site.searchIndex();  // runtime/retrieval.js's SearchIndex, once per page
//   await site.loadModel("embedder", ({loaded, total}) => ...);  // once per page
//   site.loadingModel("embedder")        // that load's promise once someone started it
//   site.addEventListener("model-loading", ({detail: {role, loading}}) => ...);
//   site.addEventListener("model-warning", ({detail: {role, message}}) => ...);  // e.g. quota
//   await site.modelCached("embedder")   // every shard already in Cache Storage?
//   const runtime = await site.runtime();

import { createRuntime } from "./index.js";

class Site extends EventTarget {
  constructor(entryUrl, entry, assistant) {
    super();
    this.entryUrl = entryUrl;
    this.version = entry.version;
    this.index = entry.index;
    this.assistant = assistant;
    this.root = new URL("..", entryUrl).href; // the site's base URL
    this.models = new Map(); // role -> promise of the runtime's load result
    this.progressListeners = new Map(); // role -> Set of onProgress callbacks
    this.runtimePromise = null;
    this.indexPromise = null;
  }

  url(path) {
    return new URL(path, this.entryUrl).href;
  }

  // The search index, fetched once per page; a failed fetch is forgotten, so the next call
  // tries again.
  searchIndex() {
    this.indexPromise ??= import("./retrieval.js").then((module) => module.SearchIndex.load(this));
    this.indexPromise.catch(() => {
      this.indexPromise = null;
    });
    return this.indexPromise;
  }

  runtime() {
    this.runtimePromise ??= createRuntime(new URL(".", import.meta.url));
    return this.runtimePromise;
  }

  // Loads a model of the assistant ("generator" or "embedder") once; later calls share it,
  // and every caller's onProgress hears the bytes. A failed load is forgotten, so the reader
  // can try again.
  loadModel(role, onProgress = () => {}) {
    if (!this.assistant) return Promise.reject(new Error("the assistant is off on this site"));
    if (!this.progressListeners.has(role)) this.progressListeners.set(role, new Set());
    const listeners = this.progressListeners.get(role);
    listeners.add(onProgress);
    if (!this.models.has(role)) {
      const { manifest, program } = this.assistant.models[role];
      const urls = { manifestUrl: this.url(manifest), programUrl: this.url(program), model: role };
      const report = (progress) => listeners.forEach((listener) => listener(progress));
      const warn = (message) =>
        this.dispatchEvent(new CustomEvent("model-warning", { detail: { role, message } }));
      const loading = this.runtime().then((runtime) => runtime.load(urls, report, warn));
      loading.catch(() => this.models.delete(role));
      loading.finally(() => listeners.clear()).catch(() => {});
      this.models.set(role, loading);
      this.dispatchEvent(new CustomEvent("model-loading", { detail: { role, loading } }));
    }
    return this.models.get(role);
  }

  // The running or finished load of `role`, or null when nobody asked for it yet.
  loadingModel(role) {
    return this.models.get(role) ?? null;
  }

  // Whether every shard of `role` is already in Cache Storage (a visit before loaded it),
  // so loading it now costs no download. Searches all caches: the loader's and the
  // service worker's.
  async modelCached(role) {
    const model = this.assistant?.models?.[role];
    if (!model || !globalThis.caches) return false;
    try {
      const manifestUrl = this.url(model.manifest);
      const manifest = await fetchJson(manifestUrl);
      const found = await Promise.all(
        manifest.shards.map((shard) => caches.match(new URL(shard.file, manifestUrl).href)),
      );
      return found.every(Boolean);
    } catch {
      return false; // unreadable: treat as not cached, the reader can still opt in
    }
  }
}

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

let sitePromise = null;

// The site of this page; rejects when the page names no entry or it cannot be read.
export function loadSite(doc = document) {
  sitePromise ??= (async () => {
    const meta = doc.querySelector('meta[name="pagemind"]');
    if (!meta) throw new Error("this page names no pagemind site entry");
    const entryUrl = new URL(meta.content, doc.baseURI).href;
    const entry = await fetchJson(entryUrl);
    const assistant = entry.assistant ? await fetchJson(new URL(entry.assistant, entryUrl)) : null;
    return new Site(entryUrl, entry, assistant);
  })();
  return sitePromise;
}
