// The site's service worker: reading offline after the first visit, the assistant included.
// pagemind's build injects BUILD (see pagemind/service_worker.py):
//   {version, offline, shell, precache: [[url, revision]], models: [url],
//    index: {manifest, signs} | null}
// URLs are relative to this file, which sits at the site root, so the same code works at a
// domain's root and under a sub-path such as /repo/.
//
// - Precached files (runtime, theme, shaders, search index, 404; every page with
//   offline = "all"): cache-first, from one cache per build. A new build's install copies
//   the entries whose revision did not change from older caches, downloading only the rest.
// - Pages, _pagemind/site.json and docs files: network-first, falling back to the cache, so
//   a reader sees the newest build online and every visited page offline.
// - The search index's shards, fragments, vector groups and signs (content-hashed, fetched
//   as queries need them; precached with offline = "all"): cache-first, kept as they
//   arrive, so a search offline finds what earlier searches fetched.
// - Model files: one cache shared by every build ("pagemind-models", which runtime/loader.js
//   fills with verified shards), so a docs edit never downloads the model again.
// A new build waits until the page asks it to take over (the reader's "Reload"), so assets
// never change under an open page; on activation it deletes only what it no longer needs.

const BUILD = /* @build */ null;

const SCOPE = new URL("./", self.location).href;
const PREFIX = `pagemind:${new URL(SCOPE).pathname}:`; // sites on one origin keep apart
const PRECACHE = `${PREFIX}precache:${BUILD.version}`;
const PAGES = `${PREFIX}pages`;
const INDEX = `${PREFIX}index`;
const MODELS = "pagemind-models"; // shared with runtime/loader.js
const REVISION = "x-pagemind-revision";
const SHELL = "x-pagemind-shell";
const ENTRY = new URL("_pagemind/site.json", SCOPE).href;
const MODELS_URL = new URL("_pagemind/models/", SCOPE).href;
const BUNDLE_URL = new URL("_pagemind/", SCOPE).href;

const precached = new Map(BUILD.precache.map(([url, revision]) => [new URL(url, SCOPE).href, revision]));
const modelFiles = new Set(BUILD.models.map((url) => new URL(url, SCOPE).href));
const INDEX_URL = new URL("_pagemind/index/", SCOPE).href;

async function sha256(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// A precached file's bytes from the network, checked against its revision: an HTTP cache or
// a CDN still serving the previous build gets one more try that bypasses caches. Hosts may
// rewrite HTML (analytics, e-mail obfuscation), so pages are taken as served.
async function download(url, revision) {
  for (const cache of ["no-cache", "reload"]) {
    const response = await fetch(url, { cache });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const body = await response.arrayBuffer();
    const type = response.headers.get("content-type") ?? "";
    const checked = type.startsWith("text/html") || (await sha256(body)).startsWith(revision);
    if (checked) {
      return new Response(body, { headers: { "content-type": type, [REVISION]: revision } });
    }
  }
  throw new Error(`${url} does not match this build's manifest: the host still serves another build`);
}

async function olderCopy(url, revision) {
  for (const name of await caches.keys()) {
    if (!name.startsWith(`${PREFIX}precache:`)) continue;
    const copy = await (await caches.open(name)).match(url);
    if (copy?.headers.get(REVISION) === revision) return copy;
  }
  return null;
}

async function precache() {
  const cache = await caches.open(PRECACHE);
  await Promise.all(
    [...precached].map(async ([url, revision]) => {
      if ((await cache.match(url))?.headers.get(REVISION) === revision) return;
      await cache.put(url, (await olderCopy(url, revision)) ?? (await download(url, revision)));
    }),
  );
}

// Pages cached under another theme name older stylesheets: fetch them again, or drop them.
async function refreshPages() {
  const cache = await caches.open(PAGES);
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    if (response.headers.get(SHELL) === BUILD.shell) continue;
    const fresh = await fetch(request.url).catch(() => null);
    if (fresh?.ok) await cache.put(request.url, await withShell(fresh));
    else await cache.delete(request);
  }
}

async function removeUnneeded() {
  for (const name of await caches.keys()) {
    if (name.startsWith(`${PREFIX}precache:`) && name !== PRECACHE) await caches.delete(name);
  }
  const needed = await indexFiles();
  const index = await caches.open(INDEX);
  for (const request of await index.keys()) {
    if (!needed.has(request.url)) await index.delete(request);
  }
  const models = await caches.open(MODELS);
  for (const request of await models.keys()) {
    if (request.url.startsWith(MODELS_URL) && !modelFiles.has(request.url)) {
      await models.delete(request);
    }
  }
}

// A page loaded before this worker controlled it sends its URL and the files it loaded
// (images, icons), so they read offline too.
async function keep(urls) {
  const cache = await caches.open(PAGES);
  for (const url of new Set(urls.map((url) => url.split("#")[0]))) {
    if (isIndexFile(url)) {
      await indexFile(new Request(url)).catch(() => null); // searched before the worker ran
      continue;
    }
    const kept = precached.has(url) || url.startsWith(MODELS_URL) || (await cache.match(url));
    if (kept || !url.startsWith(SCOPE)) continue;
    const response = await fetch(url).catch(() => null);
    if (response?.ok) await cache.put(url, await withShell(response));
  }
}

async function withShell(response) {
  const headers = new Headers(response.headers);
  headers.set(SHELL, BUILD.shell);
  return new Response(await response.arrayBuffer(), { status: response.status, headers });
}

const OFFLINE_PAGE = `<!doctype html><meta charset="utf-8"><title>Offline</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>You are offline</h1><p>This page was not saved for offline reading: pages you have
visited before are. <a href="${SCOPE}">Go to the home page</a>.</p></body>`;

async function networkFirst(request, keep) {
  try {
    const response = await fetch(request);
    if (keep && response.ok && response.type === "basic") {
      const stored = await withShell(response.clone());
      await (await caches.open(PAGES)).put(request.url, stored).catch(() => {});
    }
    return response;
  } catch (error) {
    const navigation = request.mode === "navigate";
    const cached = await caches.match(request.url, { ignoreSearch: navigation });
    if (cached) return cached;
    if (!navigation) throw error;
    const headers = { "content-type": "text/html; charset=utf-8" };
    return new Response(OFFLINE_PAGE, { status: 503, headers });
  }
}

async function cacheFirst(request) {
  return (await (await caches.open(PRECACHE)).match(request.url)) ?? fetch(request);
}

// Manifests and programs are stored here; shards are stored by the loader once verified, so
// the model is kept once (fetched with cache: "no-store", it skips the HTTP cache too).
async function modelFile(request) {
  const cache = await caches.open(MODELS);
  const cached = await cache.match(request.url);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && request.url.endsWith(".json")) {
    await cache.put(request.url, response.clone()).catch(() => {});
  }
  return response;
}

// The index files this build names (see pagemind/search_index/index_files.py): the term
// shards, fragments and vector groups its precached manifest lists, and its signs.
async function indexFiles() {
  if (!BUILD.index) return new Set();
  const manifestUrl = new URL(BUILD.index.manifest, SCOPE).href;
  const kept = await (await caches.open(PRECACHE)).match(manifestUrl);
  if (!kept) return new Set();
  const manifest = await kept.json();
  const kinds = [["terms", "json"], ["fragments", "json"], ["vectors", "bin"]];
  const files = kinds.flatMap(([folder, extension]) =>
    (manifest[folder]?.files ?? []).map((hash, n) => `${folder}/${n}.${hash}.${extension}`),
  );
  const urls = files.map((file) => new URL(file, INDEX_URL).href);
  if (BUILD.index.signs) urls.push(new URL(BUILD.index.signs, SCOPE).href);
  return new Set(urls);
}

function isIndexFile(url) {
  return url.startsWith(INDEX_URL) && !precached.has(url);
}

// Offline, a file never fetched before fails as the network does: the search says so.
async function indexFile(request) {
  const cache = await caches.open(INDEX);
  const cached = await cache.match(request.url);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request.url, response.clone()).catch(() => {});
  return response;
}

function route(request) {
  const url = request.url.split("#")[0];
  if (url.startsWith(MODELS_URL)) return modelFile(request);
  if (isIndexFile(url)) return indexFile(request);
  if (request.mode === "navigate" || url === ENTRY) return networkFirst(request, true);
  if (precached.has(url)) return cacheFirst(request);
  // Other files of this site: docs images and such are kept, other builds' hashed files not.
  return networkFirst(request, !url.startsWith(BUNDLE_URL));
}

self.addEventListener("install", (event) => event.waitUntil(precache()));

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      await removeUnneeded();
      await self.clients.claim();
      await refreshPages();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "skip-waiting") self.skipWaiting();
  if (event.data?.type === "keep") event.waitUntil(keep(event.data.urls));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  // Resumed downloads (Range) go to the network as they are.
  if (request.method !== "GET" || !request.url.startsWith(SCOPE) || request.headers.has("range")) {
    return;
  }
  event.respondWith(route(request));
});
