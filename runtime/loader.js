// Model download: the manifest, then its shards with byte progress, each verified against
// its sha256 and kept in Cache Storage under its content-hashed URL, so a later visit (or
// a rebuilt site whose model did not change) reads it from the cache instead. Only verified
// bytes are ever put there, so a cached shard is checked by its length alone: hashing 120 MB
// again would double the time a second visit takes to be ready. The site's
// service worker (sw.js) answers shard requests from this same cache and stores none itself,
// and shards skip the HTTP cache: the model is kept once.

const CACHE = "pagemind-models"; // shared with the service worker
// How often a download that breaks off is continued before it is reported.
const RESUMES = 3;

export class LoadError extends Error {
  name = "LoadError";
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function concatenate(chunks, length) {
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

// The start of the range a 206 answer holds ("bytes 100-199/200" -> 100).
function rangeStart(response) {
  return Number(/^bytes (\d+)-/.exec(response.headers.get("content-range") ?? "")?.[1] ?? -1);
}

// The whole body, reporting each chunk's size to `onBytes` as it streams in (negative when
// bytes already counted are dropped). A download that breaks off continues where it stopped
// with a Range request, or starts over when the server answers with the whole file.
async function download(url, onBytes) {
  const chunks = [];
  let received = 0;
  for (let breaks = 0; ; breaks++) {
    const headers = received ? { Range: `bytes=${received}-` } : {};
    let response;
    try {
      response = await fetch(url, { headers, cache: "no-store" });
    } catch (error) {
      if (breaks < RESUMES) continue;
      throw new LoadError(`${url} could not be downloaded (${error.message}): check the connection`);
    }
    if (!response.ok) throw new LoadError(`${url} could not be downloaded (HTTP ${response.status})`);
    if (received && !(response.status === 206 && rangeStart(response) === received)) {
      onBytes(-received); // the server sent the whole file again
      chunks.length = 0;
      received = 0;
    }
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return concatenate(chunks, received);
        chunks.push(value);
        received += value.length;
        onBytes(value.length);
      }
    } catch (error) {
      if (breaks >= RESUMES) {
        throw new LoadError(
          `the download of ${url} broke off ${breaks + 1} times (${error.message}): check the ` +
            "connection and try again",
        );
      }
    }
  }
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
    if (bytes.length === shard.bytes) {
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
        progress.warn(`the model could not be kept for next time (${error.name}: ${error.message})`);
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

async function fetchManifest(manifestUrl) {
  const response = await fetch(manifestUrl);
  if (!response.ok) {
    throw new LoadError(`${manifestUrl} could not be downloaded (HTTP ${response.status})`);
  }
  const manifest = await response.json();
  if (manifest.format !== "pagemind-model/1") {
    throw new LoadError(`${manifestUrl} is not a pagemind-model/1 manifest`);
  }
  return manifest;
}

// Returns {manifest, shards: [Uint8Array]}. `onProgress({loaded, total, source})` sees
// byte counts across all shards; `onWarning(message)` hears about problems that do not stop
// the load (such as a full storage quota); `onManifest(manifest)` runs once the shards are
// on their way, for work that needs the manifest alone; `time(phase, work)` may time the
// phases ("manifest", "shards").
export async function loadModel(
  manifestUrl,
  {
    onProgress = () => {},
    onWarning = () => {},
    onManifest = () => {},
    time = (phase, work) => work(),
  } = {},
) {
  const manifest = await time("manifest", () => fetchManifest(manifestUrl));
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
  const reading = time("shards", () =>
    Promise.all(
      manifest.shards.map((shard) =>
        loadShard(new URL(shard.file, manifestUrl).href, shard, cache, progress),
      ),
    ),
  );
  // A microtask: the shards' reads have begun by then.
  const [shards] = await Promise.all([reading, Promise.resolve(manifest).then(onManifest)]);
  return { manifest, shards };
}
