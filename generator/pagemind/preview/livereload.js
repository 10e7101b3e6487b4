// Live reload for `pagemind serve`: reloads the page after each rebuild (keeping its scroll
// position) and shows a failed build as a banner over the last good one.
(() => {
  const script = document.currentScript;
  const servedBuild = script.dataset.build;
  const scrollKey = `pagemind-serve-scroll:${location.pathname}`;
  const BANNER_CSS = `
    .banner { position: fixed; inset: 0 0 auto 0; z-index: 2147483647; max-height: 50vh;
      overflow: auto; padding: 12px 48px 12px 16px; background: #fef2f2; color: #7f1d1d;
      border-bottom: 3px solid #dc2626; font: 14px/1.5 system-ui, sans-serif;
      box-shadow: 0 4px 16px rgb(0 0 0 / 0.25); }
    .heading { display: block; font-size: 15px; }
    .where { font-family: ui-monospace, monospace; font-weight: 600; margin-top: 4px; }
    .message { margin: 4px 0; white-space: pre-wrap; font: 13px/1.45 ui-monospace, monospace; }
    .fix { color: #14532d; }
    .close { position: absolute; top: 8px; right: 12px; border: 0; background: none;
      color: inherit; font-size: 22px; cursor: pointer; }
  `;

  restoreScroll();
  // Only visible pages listen: browsers allow few open connections per server, and a page
  // shown again catches up at once, as the first message carries the current build.
  let events = null;
  listen();
  document.addEventListener("visibilitychange", listen);
  addEventListener("pageshow", listen);
  addEventListener("pagehide", stopListening);

  function listen() {
    if (document.hidden) {
      stopListening();
    } else if (events === null) {
      events = new EventSource(script.dataset.events);
      events.addEventListener("state", (event) => showState(JSON.parse(event.data)));
    }
  }

  function stopListening() {
    events?.close();
    events = null;
  }

  function showState(state) {
    if (state.error) {
      showError(state.error);
    } else if (state.build !== servedBuild) {
      reload();
    } else {
      hideError();
    }
  }

  function reload() {
    sessionStorage.setItem(scrollKey, JSON.stringify([scrollX, scrollY]));
    location.reload();
  }

  function restoreScroll() {
    const saved = sessionStorage.getItem(scrollKey);
    if (saved === null) return;
    sessionStorage.removeItem(scrollKey);
    const [x, y] = JSON.parse(saved);
    addEventListener("load", () => scrollTo(x, y));
  }

  // The banner lives in a shadow root so the site's CSS and the banner's never mix.
  function showError(error) {
    hideError();
    const host = document.createElement("pagemind-build-error");
    const shadow = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = BANNER_CSS;
    const banner = element("div", "banner", "");
    banner.setAttribute("role", "alert");
    const heading = element("strong", "heading", "Build failed: showing the last good build");
    const close = element("button", "close", "\u00d7");
    close.setAttribute("aria-label", "Hide");
    close.addEventListener("click", () => host.remove());
    banner.append(heading, close);
    const where = errorLocation(error);
    if (where) banner.append(element("div", "where", where));
    banner.append(element("pre", "message", error.message));
    if (error.fix) banner.append(element("div", "fix", `fix: ${error.fix}`));
    shadow.append(style, banner);
    document.documentElement.append(host);
  }

  function hideError() {
    document.querySelector("pagemind-build-error")?.remove();
  }

  function errorLocation(error) {
    let where = error.file ?? "";
    if (error.file && error.line != null) where += `:${error.line}`;
    if (error.key) where += where ? ` (${error.key})` : error.key;
    return where;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }
})();
