// The assistant panel: a button on the page (and Ctrl/Cmd+I) opens a side panel that asks
// before the first download (showing its size), shows the download's progress in bytes,
// then answers questions from the docs in a stream, with the sources first and citations
// linked to their sections; stop, copy, thumbs up/down, follow-ups. Without WebGPU, or when
// the GPU fails, it says why and shows search results instead: it never spins forever.
// Text from the model and the docs reaches the page only through render_text.js.

import { AssistantChat, keywordHits } from "./assistant_chat.js";
import { exportFeedback, rate, readFeedback } from "./assistant_feedback.js";
import { element, megabytes } from "./dom.js";
import { renderText } from "./render_text.js";

const NO_WEBGPU =
  "This browser does not offer WebGPU, which the assistant needs to run its language " +
  "model on your device (a recent Chrome, Edge or Safari has it). Questions are answered " +
  "with search results instead.";
const SEARCH_INSTEAD = "Questions are answered with search results instead.";
const THUMB_UP =
  "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3a1.5 1.5 0 0 0-.4-1.1L13.2 1 6.6 " +
  "7.6A2 2 0 0 0 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";

export async function mount(slot, sitePromise) {
  const site = await sitePromise;
  if (!site.assistant) return null;
  const panel = new AssistantPanel(slot, site);
  document.addEventListener("keydown", (event) => panel.onPageKey(event));
  return panel;
}

// A thumb (pointing down when `down`), drawn as SVG: emoji fonts are not everywhere.
function thumb(down) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", down ? "pm-thumb pm-thumb-down" : "pm-thumb");
  const path = document.createElementNS(svg.namespaceURI, "path");
  path.setAttribute("d", THUMB_UP);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

let turnCount = 0;

class AssistantPanel {
  constructor(slot, site) {
    this.site = site;
    this.chat = new AssistantChat(site);
    // "new" | "offer" | "loading" | "ready" | "search-only"
    this.state = "new";
    this.busy = false;
    this.build(slot);
  }

  build(slot) {
    this.button = element(
      "button",
      {
        type: "button",
        class: "pm-assistant-button",
        "aria-expanded": "false",
        "aria-controls": "pm-assistant",
        "aria-keyshortcuts": "Control+I Meta+I",
        title: "Ask the docs (Ctrl+I)",
      },
      element("span", { "aria-hidden": "true", class: "pm-assistant-icon" }, "✦"),
      element("span", {}, "Ask the docs"),
    );
    this.button.addEventListener("click", () => (this.isOpen() ? this.close() : this.open()));
    this.status = element("div", { class: "pm-assistant-status", role: "status" });
    this.log = element("div", {
      class: "pm-assistant-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
    });
    this.input = element("textarea", {
      id: "pm-assistant-question",
      rows: "2",
      placeholder: "Ask a question about these docs",
      autocomplete: "off",
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.askButton = element("button", { type: "submit", class: "pm-primary" }, "Ask");
    this.stopButton = element("button", { type: "button", hidden: "" }, "Stop");
    this.stopButton.addEventListener("click", () => this.chat.stop());
    this.form = element(
      "form",
      { class: "pm-assistant-form" },
      element("label", { for: "pm-assistant-question", class: "pm-visually-hidden" }, "Question"),
      this.input,
      element("div", { class: "pm-assistant-buttons" }, this.stopButton, this.askButton),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.exportButton = element("button", { type: "button", class: "pm-link-button" });
    this.exportButton.addEventListener("click", exportFeedback);
    this.updateExport();
    const closeButton = element(
      "button",
      { type: "button", class: "pm-icon-button", "aria-label": "Close the assistant" },
      "✕",
    );
    closeButton.addEventListener("click", () => this.close());
    this.panel = element(
      "section",
      {
        id: "pm-assistant",
        class: "pm-assistant",
        role: "dialog",
        "aria-modal": "false",
        "aria-labelledby": "pm-assistant-title",
        hidden: "",
      },
      element(
        "header",
        { class: "pm-assistant-header" },
        element("h2", { id: "pm-assistant-title" }, "Ask the docs"),
        closeButton,
      ),
      this.status,
      this.log,
      this.form,
      element(
        "footer",
        { class: "pm-assistant-footer" },
        element("span", {}, "Runs on your device. Answers can be wrong: check the sources."),
        (this.storageNote = element("span", { class: "pm-assistant-storage" })),
        this.exportButton,
      ),
    );
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    slot.append(this.button, this.panel);
  }

  isOpen() {
    return !this.panel.hidden;
  }

  onPageKey(event) {
    const shortcut = (event.ctrlKey || event.metaKey) && !event.altKey && event.key === "i";
    if (!shortcut) return;
    event.preventDefault();
    if (this.isOpen()) this.input.focus();
    else this.open();
  }

  // The question box takes questions once the models are ready, or in search-only mode.
  enableForm(enabled) {
    this.input.disabled = !enabled;
    this.askButton.disabled = !enabled;
  }

  async open() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    document.documentElement.classList.add("pm-assistant-open");
    this.input.focus();
    if (this.state === "new") await this.start();
  }

  close() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    document.documentElement.classList.remove("pm-assistant-open");
    this.button.focus();
  }

  // First open: without WebGPU go search-only; with the models cached load them at once;
  // otherwise say what the download is and ask.
  async start() {
    if (!globalThis.navigator?.gpu) return this.searchOnly(NO_WEBGPU);
    this.state = "offer";
    this.enableForm(false);
    this.say("Checking this browser's storage…");
    if (await this.chat.cached()) return this.load();
    this.offer();
  }

  offer() {
    const { embedder, generator } = this.site.assistant.models;
    const accept = element(
      "button",
      { type: "button", class: "pm-primary" },
      `Download ${megabytes(this.chat.downloadBytes)} and start`,
    );
    const keep = element("input", { type: "checkbox", id: "pm-assistant-keep" });
    accept.addEventListener("click", () => this.load({ persist: keep.checked }));
    const decline = element("button", { type: "button" }, "Search only");
    decline.addEventListener("click", () => this.searchOnly("You chose search only."));
    this.status.replaceChildren(
      element(
        "p",
        {},
        "The assistant answers from these docs with a language model that runs on your " +
          `device. It downloads ${megabytes(this.chat.downloadBytes)} once (language model ` +
          `${megabytes(generator.download_bytes)}, search model ` +
          `${megabytes(embedder.download_bytes)}); later visits load it from this browser's ` +
          "storage. Nothing you type leaves your device.",
      ),
      element(
        "p",
        {},
        keep,
        " ",
        element("label", { for: "pm-assistant-keep" }, "Keep it for offline use"),
      ),
      element("div", { class: "pm-assistant-buttons" }, decline, accept),
    );
    accept.focus();
  }

  // persist: the reader asked to keep the models, so ask the browser not to evict them.
  async load({ persist = false } = {}) {
    this.state = "loading";
    this.enableForm(false);
    this.askButton.textContent = "Ask";
    const bar = element("progress", {
      max: String(this.chat.downloadBytes),
      value: "0",
      "aria-label": "Download progress",
    });
    const words = element("span", {}, "Starting…");
    this.status.replaceChildren(element("div", { class: "pm-progress" }, bar, words));
    const offline = import("./offline.js").catch(() => null);
    if (persist) offline.then((module) => module?.requestPersistence());
    const warnings = [];
    const hear = ({ detail }) => warnings.push(detail.message);
    this.site.addEventListener("model-warning", hear);
    try {
      await this.chat.load(({ loaded, total }) => {
        bar.max = total;
        bar.value = Math.min(loaded, total);
        words.textContent =
          loaded >= total
            ? "Starting the model on your GPU…"
            : `${megabytes(loaded)} of ${megabytes(total)}`;
      });
    } catch (error) {
      return this.searchOnly(await failureReason(error, await offline), { retry: true });
    } finally {
      this.site.removeEventListener("model-warning", hear);
    }
    this.watching ??= this.watchDevice();
    this.state = "ready";
    this.status.replaceChildren();
    // The models run, but storage trouble means the next visit downloads them again.
    const storage = await offline;
    if (warnings.length && storage) this.say(storage.describeStorageError(warnings[0]));
    if (storage) this.showStorage(await storage.storageStatus());
    this.enableForm(true);
    this.input.focus();
  }

  // A lost GPU is re-created by the runtime; if that fails, fall back to search.
  async watchDevice() {
    const runtime = await this.site.runtime();
    runtime.addEventListener("device-lost", () => this.say("The GPU was reset; restarting…"));
    runtime.addEventListener("device-restored", () => this.say(""));
    runtime.addEventListener("device-failed", ({ detail }) =>
      this.searchOnly(`The GPU stopped working (${detail.message}). ${SEARCH_INSTEAD}`, {
        retry: true,
      }),
    );
  }

  searchOnly(reason, { retry = false } = {}) {
    this.state = "search-only";
    const note = element("p", { class: "pm-assistant-note" }, reason);
    if (retry) {
      const again = element("button", { type: "button", class: "pm-link-button" }, "Try again");
      again.addEventListener("click", () => this.load());
      note.append(" ", again);
    }
    this.status.replaceChildren(note);
    this.askButton.textContent = "Search";
    this.enableForm(!this.busy);
    if (!this.busy) this.input.focus();
  }

  // How much this site keeps on the device, and whether the browser may evict it.
  showStorage({ usage, quota, persisted }) {
    if (!quota) return;
    const kept = persisted ? "kept for offline use" : "the browser may remove it if space runs low";
    this.storageNote.textContent =
      `Stored on this device: ${megabytes(usage)} of ${megabytes(quota)} (${kept}).`;
  }

  say(text) {
    this.status.replaceChildren(...(text ? [element("p", {}, text)] : []));
  }

  async submit() {
    const question = this.input.value.trim();
    if (!question || this.busy || this.state === "loading" || this.state === "offer") return;
    this.input.value = "";
    if (this.state === "search-only") return this.showSearch(question);
    this.busy = true;
    this.askButton.disabled = true;
    this.stopButton.hidden = false;
    const turn = new Turn(this, question);
    try {
      const { hits, relevant } = await this.chat.retrieve(question);
      const result = await this.chat.answer(question, hits, relevant, {
        onSources: (sources) => turn.showSources(sources),
        onText: (text) => turn.showText(text),
      });
      turn.finish(result);
    } catch (error) {
      turn.fail(error);
      this.searchOnly(`The model stopped with an error: ${error.message ?? error}. ` +
        SEARCH_INSTEAD, { retry: true });
      this.showSearch(question);
    } finally {
      this.busy = false;
      this.enableForm(this.state === "ready" || this.state === "search-only");
      this.stopButton.hidden = true;
      this.input.focus();
    }
  }

  // Keyword results for `question`, as links to their sections.
  async showSearch(question) {
    const block = element("div", { class: "pm-turn" }, element("p", { class: "pm-question" },
      question));
    this.log.append(block);
    let hits;
    try {
      hits = await keywordHits(this.site, question);
    } catch (error) {
      block.append(element("p", { class: "pm-assistant-note" },
        `Search is unavailable too: ${error.message ?? error}`));
      return;
    }
    // A long section comes in several chunks: one link to it is enough here.
    hits = hits.filter((hit, i) => hits.findIndex((other) => other.url === hit.url) === i);
    const list = sourceList(hits, this.site, "Search results");
    block.append(hits.length ? list : element("p", {}, "No section matches these words."));
    block.scrollIntoView({ block: "end" });
  }

  updateExport() {
    const count = readFeedback().length;
    this.exportButton.hidden = count === 0;
    this.exportButton.textContent = `Export ratings (${count})`;
  }
}

// What the reader is told when the models do not load: storage trouble in the offline
// module's words (with what to do), anything else as the runtime reported it.
function failureReason(error, offline) {
  const storage = /quota|evict|storage|cache/i.test(`${error?.name} ${error?.message}`);
  if (storage && offline) return offline.describeStorageError(error);
  return `The assistant could not start on this device: ${error?.message ?? error}. ` +
    SEARCH_INSTEAD;
}

// The links to the sections behind an answer, or search results.
function sourceList(hits, site, label) {
  const list = element("ol", { class: "pm-sources", "aria-label": label });
  for (const hit of hits) {
    const link = element("a", { href: new URL(hit.url, site.root).href },
      hit.breadcrumb || hit.heading);
    list.append(element("li", {}, link));
  }
  return list;
}

// One question and its answer in the conversation log.
class Turn {
  constructor(panel, question) {
    this.panel = panel;
    this.question = question;
    this.id = `${Date.now()}-${turnCount++}`;
    this.sources = [];
    this.text = "";
    this.answer = element("div", { class: "pm-answer", "aria-busy": "true" },
      element("p", { class: "pm-assistant-note" }, "Searching the docs…"));
    this.element = element(
      "article",
      { class: "pm-turn" },
      element("p", { class: "pm-question" }, question),
      this.answer,
    );
    panel.log.append(this.element);
    this.element.scrollIntoView({ block: "end" });
    this.frame = 0;
  }

  showSources(sources) {
    this.sources = sources;
    if (sources.length) this.answer.before(sourceList(sources, this.panel.site, "Sources"));
    this.answer.replaceChildren(element("p", { class: "pm-assistant-note" }, "Writing…"));
  }

  // Renders at most once a frame, however fast the tokens come.
  showText(text) {
    this.text = text;
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const siteRoot = this.panel.site.root;
    this.answer.replaceChildren(renderText(this.text, { siteRoot, sources: this.sources }));
  }

  finish({ text, reason }) {
    cancelAnimationFrame(this.frame);
    this.text = text;
    this.render();
    this.answer.setAttribute("aria-busy", "false");
    if (reason === "stopped") this.answer.append(element("p", { class: "pm-assistant-note" },
      "Stopped."));
    if (reason !== "not-covered") this.element.append(this.actions());
  }

  fail(error) {
    cancelAnimationFrame(this.frame);
    this.answer.setAttribute("aria-busy", "false");
    this.answer.replaceChildren(element("p", { class: "pm-assistant-note" },
      `No answer: ${error.message ?? error}`));
  }

  actions() {
    const copy = element("button", { type: "button", class: "pm-link-button" }, "Copy");
    copy.addEventListener("click", () => this.copy(copy));
    const buttons = ["up", "down"].map((rating) => {
      const label = rating === "up" ? "Helpful" : "Not helpful";
      const button = element(
        "button",
        { type: "button", class: "pm-icon-button", "aria-label": label, "aria-pressed": "false",
          "data-rating": rating },
        thumb(rating === "down"),
      );
      button.addEventListener("click", () => this.rate(rating, buttons));
      return button;
    });
    return element("div", { class: "pm-actions" }, copy, ...buttons);
  }

  async copy(button) {
    const lines = this.sources.map((hit, i) =>
      `[${i + 1}] ${hit.breadcrumb || hit.heading}: ${new URL(hit.url, this.panel.site.root)}`);
    const text = lines.length ? `${this.text}\n\n${lines.join("\n")}` : this.text;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
  }

  rate(rating, buttons) {
    const { id, question, text: answer, sources } = this;
    const saved = rate({ id, rating, question, answer, sources });
    for (const button of buttons) {
      button.setAttribute("aria-pressed", String(saved && button.dataset.rating === rating));
    }
    this.panel.updateExport();
  }
}
