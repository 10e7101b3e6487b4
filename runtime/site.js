// The site as the page's features see it: the entry file every page names in
// <meta name="pagemind">, the assistant's settings, and one runtime worker shared by the
// search box and the assistant panel.
//
//   const site = await loadSite();
//   site.index        // the search index description, or null
//   site.assistant    // assistant.<hash>.json's content, or null when the assistant is off
//   site.url("index/chunks.1a2b.json")   // an absolute URL for a path relative to _pagemind/
//   await site.loadModel("embedder", ({loaded, total}) => ...);  // once per page
//   const runtime = await site.runtime();

import { createRuntime } from "./index.js";

class Site {
  constructor(entryUrl, entry, assistant) {
    this.entryUrl = entryUrl;
    this.version = entry.version;
    this.index = entry.index;
    this.assistant = assistant;
    this.root = new URL("..", entryUrl).href; // the site's base URL
    this.models = new Map(); // role -> promise of the runtime's load result
    this.runtimePromise = null;
  }

  url(path) {
    return new URL(path, this.entryUrl).href;
  }

  runtime() {
    this.runtimePromise ??= createRuntime(new URL(".", import.meta.url));
    return this.runtimePromise;
  }

  // Loads a model of the assistant ("generator" or "embedder") once; later calls share it.
  // A failed load is forgotten, so the reader can try again.
  loadModel(role, onProgress = () => {}) {
    if (!this.assistant) return Promise.reject(new Error("the assistant is off on this site"));
    if (!this.models.has(role)) {
      const { manifest, program } = this.assistant.models[role];
      const urls = { manifestUrl: this.url(manifest), programUrl: this.url(program), model: role };
      const loading = this.runtime().then((runtime) => runtime.load(urls, onProgress));
      loading.catch(() => this.models.delete(role));
      this.models.set(role, loading);
    }
    return this.models.get(role);
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
