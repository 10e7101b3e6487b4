// The assistant panel: a button on the page (and Ctrl/Cmd+I) opens a side panel that asks
// before the first download (showing its size), shows the download's progress in bytes,
// then answers questions from the docs: first the passage of the docs that answers best
// ("From the docs", no model needed), then the model's answer streamed sentence by sentence,
// each cited to the section that supports it, then the sources; "Why this answer" lists the
// sentences held back as not in the docs. Stop, copy, thumbs up/down, follow-ups, "Report
// a gap" where the site names its repository. A thumbs-down lowers the answer's sources in
// this reader's next answers (listed in the footer, with Reset); a question asked again is
// answered from the answer cache, marked, with "Ask again". A site with adapters offers them
// as a "Style" picker: a switch loads only that adapter's bytes, and the choice is kept
// per site (localStorage). Without WebGPU, or when the GPU
// fails, it says why and answers with the passage and search results: it never spins
// forever. It only shows what assistant_chat.js returns; text from the model and the docs
// reaches the page only through render_text.js.

import { AnswerCache } from "./answer_cache.js";
import { AssistantChat, keywordAnswer } from "./assistant_chat.js";
import {
  exportFeedback,
  loweredSections,
  lowerFound,
  readFeedback,
  resetLowered,
} from "./assistant_feedback.js";
import { element, megabytes } from "./dom.js";
import { Turn } from "./panel_turn.js";
import { NOT_COVERED } from "./prompt.js";
import { siteLink } from "./safe_url.js";

const NO_WEBGPU =
  "This browser does not offer WebGPU, which the assistant needs to run its language " +
  "model on your device (a recent Chrome, Edge or Safari has it). Questions are answered " +
  "with the passages of the docs that match them, and search results, instead.";
const SEARCH_INSTEAD =
  "Questions are answered with the passages of the docs that match them, and search " +
  "results, instead.";

export async function mount(slot, sitePromise) {
  const site = await sitePromise;
  if (!site.assistant) return null;
  const panel = new AssistantPanel(slot, site);
  document.addEventListener("keydown", (event) => panel.onPageKey(event));
  return panel;
}

class AssistantPanel {
  constructor(slot, site) {
    this.site = site;
    this.chat = new AssistantChat(site);
    this.answers = new AnswerCache(site);
    this.repoUrl = slot.dataset.repoUrl || null; // the site's repo_url, for "Report a gap"
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
    this.loweredList = element("details", { class: "pm-lowered" });
    this.updateFeedback();
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
      ...(this.buildStylePicker() ?? []),
      this.form,
      element(
        "footer",
        { class: "pm-assistant-footer" },
        element("span", {}, "Runs on your device. Answers can be wrong: check the sources."),
        (this.storageNote = element("span", { class: "pm-assistant-storage" })),
        this.loweredList,
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

  // The site's adapters as a select ("Default" is the model alone); none: no picker.
  buildStylePicker() {
    const adapters = this.site.assistant.adapters ?? [];
    if (!adapters.length) return null;
    this.styleKey = `pagemind-style:${this.site.root}`;
    this.styleSelect = element(
      "select",
      { id: "pm-assistant-style" },
      element("option", { value: "" }, "Default"),
      ...adapters.map(({ name }) => element("option", { value: name }, name)),
    );
    const kept = readStored(this.styleKey);
    this.styleSelect.value = adapters.some(({ name }) => name === kept) ? kept : "";
    this.styleSelect.addEventListener("change", () => this.switchStyle());
    const label = element("label", { for: "pm-assistant-style" }, "Style");
    return [element("div", { class: "pm-assistant-style" }, label, this.styleSelect)];
  }

  // The picked style, kept for the next visit; once the model runs, switched at once.
  async switchStyle() {
    writeStored(this.styleKey, this.styleSelect.value);
    if (this.state !== "ready") return; // load() applies it
    this.enableForm(false);
    this.styleSelect.disabled = true;
    try {
      await this.applyStyle();
      this.say("");
    } catch (error) {
      this.say(`That style could not be loaded (${error.message}); the default is in use.`);
      this.styleSelect.value = "";
    } finally {
      this.styleSelect.disabled = false;
      this.enableForm(true);
    }
  }

  // The runtime's adapter as the picker says: only the adapter's bytes load.
  async applyStyle() {
    const name = this.styleSelect.value;
    const adapter = this.site.assistant.adapters.find((entry) => entry.name === name);
    const runtime = await this.site.runtime();
    await runtime.useAdapter(adapter ? this.site.url(adapter.manifest) : null);
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
    this.site.dispatchEvent(new Event("assistant-open")); // the search box makes way
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
    if (this.styleSelect?.value) {
      await this.applyStyle().catch(() => (this.styleSelect.value = ""));
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
    // Cut to as many characters as the model's window holds tokens, before it is searched or
    // tokenized (as `pagemind ask` cuts it); search-only mode has no window and no model.
    const question = this.input.value.trim().slice(0, this.chat.generator?.window);
    if (!question || this.busy || this.state === "loading" || this.state === "offer") return;
    this.input.value = "";
    if (this.state === "search-only") return this.showSearch(question);
    const kept = this.answers.get(question, this.styleSelect?.value);
    return kept ? this.showKept(question, kept) : this.ask(question);
  }

  // An answer from the answer cache: nothing searched or generated. "Ask again" asks afresh,
  // in the kept answer's place in the conversation while it is still the last turn.
  showKept(question, kept) {
    const before = this.chat.history.length;
    new Turn(this, question).showCached(kept, () => {
      if (this.busy || this.state !== "ready") return;
      if (this.chat.history.length === before + 2) this.chat.history.splice(before);
      this.ask(question);
    });
    this.chat.remember(question, kept.covered ? kept.text : NOT_COVERED);
  }

  // Generates an answer. One to a question that opened the conversation is kept: it does not
  // depend on earlier turns, so it answers the same question asked again.
  async ask(question) {
    const opening = this.chat.history.length === 0;
    this.busy = true;
    this.askButton.disabled = true;
    this.stopButton.hidden = false;
    const turn = new Turn(this, question);
    try {
      const found = this.lower(await this.chat.retrieve(question));
      turn.showFound(found, "Nearest sections");
      const result = await this.chat.answer(question, found, {
        onSources: (sources) => turn.showSources(sources),
        onClaims: (claims) => turn.showClaims(claims),
      });
      turn.finish(result);
      if (opening && result.reason !== "stopped") {
        this.answers.put(question, this.styleSelect?.value, turn.record());
      }
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

  // Without the models: the passage and the sections found by keywords, as links.
  async showSearch(question) {
    const turn = new Turn(this, question);
    try {
      turn.showSearch(this.lower(await keywordAnswer(this.site, question)));
    } catch (error) {
      turn.note(`Search is unavailable too: ${error.message ?? error}`);
    }
  }

  // What retrieval found, with the sections this reader rated down moved down.
  lower(found) {
    return lowerFound(found, loweredSections(this.site.root), this.site.assistant.grounding);
  }

  // A rating was stored: a thumbs-down also drops the kept answers built on its sources.
  feedbackChanged(rating, sources) {
    if (rating === "down") this.answers.forgetCiting(sources.map((source) => source.url));
    this.updateFeedback();
  }

  updateFeedback() {
    const count = readFeedback().length;
    this.exportButton.hidden = count === 0;
    this.exportButton.textContent = `Export ratings (${count})`;
    this.showLowered();
  }

  // "N sections lowered by your feedback", listing them, with Reset.
  showLowered() {
    const lowered = [...loweredSections(this.site.root).values()];
    this.loweredList.hidden = lowered.length === 0;
    const count = lowered.length === 1 ? "1 section" : `${lowered.length} sections`;
    const links = lowered.map((section) =>
      element("li", {}, siteLink(section.url, this.site.root, {},
        section.breadcrumb || section.heading)));
    const reset = element("button", { type: "button", class: "pm-link-button" }, "Reset");
    reset.addEventListener("click", () => {
      resetLowered();
      this.answers.clear(); // they were ranked with the lowering
      this.updateFeedback();
    });
    this.loweredList.replaceChildren(
      element("summary", {}, `${count} lowered by your feedback`),
      element("p", {}, "Your thumbs-down moved these sections down in your next answers, " +
        "in this browser only:"),
      element("ul", {}, ...links),
      reset,
    );
  }
}

// What the reader is told when the models do not load: storage trouble in the offline
// module's words (with what to do), anything else as the runtime reported it.
// localStorage where the browser allows it (a private window may refuse it).
function readStored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStored(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // the choice holds for this page only
  }
}

function failureReason(error, offline) {
  const storage = /quota|evict|storage|cache/i.test(`${error?.name} ${error?.message}`);
  if (storage && offline) return offline.describeStorageError(error);
  return `The assistant could not start on this device: ${error?.message ?? error}. ` +
    SEARCH_INSTEAD;
}
