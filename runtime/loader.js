// Model download: the manifest, then its shards with byte progress, each verified against
// its sha256 and kept in Cache Storage under its content-hashed URL, so a later visit (or
// a rebuilt site whose model did not change) reads it from the cache instead.

const CACHE = "pagemind-models";

export class LoadError extends Error {
  name = "LoadError";
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// The whole body, reporting each chunk's size to `onBytes` as it streams in.
async function download(url, onBytes) {
  const response = await fetch(url);
  if (!response.ok) throw new LoadError(`${url} could not be downloaded (HTTP ${response.status})`);
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    onBytes(value.length);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function openCache() {
  // Cache Storage needs a secure context; without it every load downloads.
  return globalThis.caches ? caches.open(CACHE) : null;
}

// A shard's verified bytes: from the cache when it holds a good copy, else from the network
// (twice at most: a corrupted download is fetched once more before it is reported).
async function loadShard(url, shard, cache, progress) {
  const cached = await cache?.match(url);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if ((await sha256(bytes)) === shard.sha256) {
      progress.add(bytes.length, "cache");
      return bytes;
    }
    await cache.delete(url);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    let received = 0;
    const bytes = await download(url, (count) => {
      received += count;
      progress.add(count, "network");
    });
    if (bytes.length === shard.bytes && (await sha256(bytes)) === shard.sha256) {
      await cache?.put(url, new Response(bytes)).catch((error) => {
        progress.warn(`the model could not be cached for next time: ${error.message}`);
      });
      return bytes;
    }
    progress.add(-received, "network"); // the retry counts its bytes again
  }
  throw new LoadError(
    `model shard ${shard.file} does not match its sha256 in the manifest after two ` +
      "downloads: the site's files are damaged or mixed from two builds; rebuild and redeploy",
  );
}

// Returns {manifest, shards: [Uint8Array]}. `onProgress({loaded, total, source})` sees
// byte counts across all shards; `onWarning(message)` hears about problems that do not stop
// the load (such as a full storage quota).
export async function loadModel(manifestUrl, { onProgress = () => {}, onWarning = () => {} } = {}) {
  const response = await fetch(manifestUrl);
  if (!response.ok) {
    throw new LoadError(`${manifestUrl} could not be downloaded (HTTP ${response.status})`);
  }
  const manifest = await response.json();
  if (manifest.format !== "pagemind-model/1") {
    throw new LoadError(`${manifestUrl} is not a pagemind-model/1 manifest`);
  }
  const total = manifest.shards.reduce((sum, shard) => sum + shard.bytes, 0);
  let loaded = 0;
  const progress = {
    add(count, source) {
      loaded += count;
      onProgress({ loaded, total, source });
    },
    warn: onWarning,
  };
  const cache = await openCache();
  const shards = await Promise.all(
    manifest.shards.map((shard) =>
      loadShard(new URL(shard.file, manifestUrl).href, shard, cache, progress),
    ),
  );
  return { manifest, shards };
}
