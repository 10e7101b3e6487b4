// Offline reading: registers the site's service worker (sw.js at the site root, scoped to
// it), offers a reload when a new build of the docs is live, and tells the assistant panel
// about the browser's storage.
//
//   mount(document.body, sitePromise)       page.js calls this on every page
//   await storageStatus()      -> {usage, quota, persisted}   bytes; persisted: kept for good
//   await requestPersistence() -> true when the browser agreed to keep the site's storage
//   describeStorageError(error) -> what happened and what to do, in the reader's words

const UPDATE_MESSAGE = "A new version of these docs is available.";

export function mount(body, site) {
  if (!("serviceWorker" in navigator)) return; // plain HTTP or an old browser: online only
  if (!navigator.serviceWorker.controller) {
    navigator.serviceWorker.addEventListener("controllerchange", keepThisPage, { once: true });
  }
  site
    .then(({ root }) => register(body, root))
    .catch((error) => console.warn("pagemind: offline reading is not available:", error));
}

async function register(body, root) {
  const registration = await navigator.serviceWorker.register(new URL("sw.js", root), {
    scope: root,
  });
  // A worker that is installed but waiting belongs to a newer build than this page.
  const offerWhenInstalled = (worker) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed") offerUpdate(body, registration);
    });
  };
  if (registration.waiting) offerUpdate(body, registration);
  if (registration.installing) offerWhenInstalled(registration.installing);
  registration.addEventListener("updatefound", () => offerWhenInstalled(registration.installing));
}

// The first visit's page loaded before the worker existed: hand it what to keep offline.
function keepThisPage() {
  const loaded = performance.getEntriesByType("resource").map((entry) => entry.name);
  const icons = [...document.querySelectorAll("link[rel~='icon']")].map((link) => link.href);
  const urls = [location.href, ...loaded, ...icons];
  navigator.serviceWorker.controller?.postMessage({ type: "keep", urls });
}

function offerUpdate(body, registration) {
  // The first install has no earlier build to replace: nothing to offer.
  if (!navigator.serviceWorker.controller || body.querySelector(".pagemind-update")) return;
  const banner = document.createElement("div");
  banner.className = "pagemind-update";
  banner.setAttribute("role", "status");
  banner.style.cssText =
    "position:fixed;inset:auto 1rem 1rem auto;z-index:1000;display:flex;gap:.75rem;" +
    "align-items:center;padding:.75rem 1rem;border-radius:.5rem;max-width:calc(100vw - 2rem);" +
    "background:var(--accent,#4f46e5);color:#fff;box-shadow:0 4px 16px rgb(0 0 0/.25);" +
    "font:inherit";
  const text = document.createElement("span");
  text.textContent = UPDATE_MESSAGE;
  const reload = document.createElement("button");
  reload.type = "button";
  reload.textContent = "Reload";
  reload.style.cssText = "font:inherit;padding:.25rem .75rem;border-radius:.25rem;cursor:pointer";
  reload.addEventListener("click", () => {
    const waiting = registration.waiting;
    if (!waiting) {
      location.reload();
      return;
    }
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload(), {
      once: true,
    });
    waiting.postMessage({ type: "skip-waiting" });
  });
  banner.append(text, reload);
  body.append(banner);
}

export async function storageStatus() {
  const storage = navigator.storage;
  const { usage = 0, quota = 0 } = (await storage?.estimate?.()) ?? {};
  const persisted = (await storage?.persisted?.()) ?? false;
  return { usage, quota, persisted };
}

// Asks the browser not to evict the site's storage (the models) when space runs low. Call it
// when the reader opts in to keep the assistant offline: browsers may ask them, or decide
// from how much the site is used.
export async function requestPersistence() {
  try {
    return (await navigator.storage?.persist?.()) ?? false;
  } catch {
    return false;
  }
}

const SEARCH_ONLY = "Search keeps working meanwhile.";

// `error`: an Error, a DOMException or the message of a loader warning.
export function describeStorageError(error) {
  const name = error?.name ?? "";
  const text = String(error?.message ?? error ?? "");
  if (name === "QuotaExceededError" || /quota/i.test(text)) {
    return (
      "Your browser has no room left to keep the assistant's model on this device. Free " +
      "space by clearing the data of sites you no longer use (browser settings → privacy → " +
      `site data), then reload this page. ${SEARCH_ONLY}`
    );
  }
  if (/evict|not found in cache|was removed/i.test(text) || name === "NotFoundError") {
    return (
      "The browser removed the assistant's saved model to make room, so it has to be " +
      "downloaded again. Choose to keep the assistant offline to ask the browser not to " +
      `remove it. ${SEARCH_ONLY}`
    );
  }
  if (name === "SecurityError" || !globalThis.caches) {
    return (
      "This browser does not let the site store files (private window, blocked site data, " +
      "or a page not served over HTTPS), so the assistant's model is downloaded on every " +
      `visit and nothing works offline. Allow site data for this site to keep it. ${SEARCH_ONLY}`
    );
  }
  return `The assistant's files could not be stored: ${text}. ${SEARCH_ONLY}`;
}
