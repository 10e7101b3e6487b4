// The search box in the header of every page: keyword results from the static index while
// the reader types, meaning-based results merged in once the embedder is ready. An ARIA
// combobox: focus stays in the field, arrows move through the listbox of results, Enter
// opens one, Escape closes; `/` or Ctrl/Cmd+K focuses the field from anywhere on the page.
// Index text reaches the page only as text nodes (see search_snippet.js), index URLs only
// through safe_url.js.

import { element, megabytes } from "./dom.js";
import { siteLink } from "./safe_url.js";
import { MeaningSearch } from "./search_meaning.js";
import { appendHighlighted, queryTerms } from "./search_snippet.js";

const RESULTS = 8; // sections shown
const RANKED = 3 * RESULTS; // chunks ranked: a long section is several chunks, shown once
const DEBOUNCE_MS = 120;
const INDEX_TIMEOUT_MS = 20000; // then the panel says so instead of waiting forever
const LATE_INDEX = "the search index did not arrive; check the connection and type again";
const BREADCRUMB = " › "; // retrieval.js's, which loads with the index, later

export function mount(slot, site) {
  const box = new SearchBox(slot, site);
  document.addEventListener("keydown", (event) => box.onPageKey(event));
  return box;
}

const SEARCH_ICON =
  '<svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><circle cx="10.5" ' +
  'cy="10.5" r="6.5" fill="none" stroke="currentColor" stroke-width="2"/><path d="m15.5 ' +
  '15.5 5 5" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';

function isEditable(target) {
  return Boolean(target?.closest?.("input, textarea, select, [contenteditable]")) ||
    Boolean(target?.isContentEditable);
}

function timeout(promise, ms, message) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// The query with its last word, while it is being typed, completed to the index's term
// that begins with it in the most chunks: "admon" searches for "admonition". Index terms
// are whole (stemmed) words, so without this a half-typed word would find nothing.
async function completeLastWord(index, text) {
  const typing = text.match(/([\p{L}\p{N}]{2,})$/u)?.[1].toLowerCase();
  if (!typing || index.stopwords.has(typing)) return text;
  const best = await index.completion(typing);
  return best ? text.slice(0, -typing.length) + best : text;
}

class SearchBox {
  constructor(slot, sitePromise) {
    this.sitePromise = sitePromise;
    this.site = null;
    this.stopwords = new Set();
    this.meaning = null;
    this.hits = [];
    this.active = -1;
    this.query = "";
    this.generation = 0; // bumped by each query, so late answers to older ones are dropped
    this.timer = 0;
    this.build(slot);
    sitePromise.then(
      (site) => this.attach(site),
      () => {}, // an unreadable site: search() says so once the reader types
    );
  }

  build(slot) {
    this.input = element("input", {
      id: "pagemind-search-input",
      type: "text",
      role: "combobox",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": "pagemind-search-results",
      "aria-keyshortcuts": "/ Control+K Meta+K",
      autocomplete: "off",
      autocapitalize: "off",
      spellcheck: "false",
      enterkeyhint: "search",
      placeholder: "Search",
    });
    const label = element("label", { for: this.input.id, class: "pm-visually-hidden" });
    label.textContent = "Search the docs";
    const icon = element("span", { class: "pm-search-icon" });
    icon.innerHTML = SEARCH_ICON; // a constant of this file, never index text
    const key = element("kbd", { class: "pm-search-key", "aria-hidden": "true" }, "/");
    this.status = element("p", { class: "pm-search-status", role: "status" });
    this.list = element("ul", {
      id: "pagemind-search-results",
      role: "listbox",
      "aria-label": "Search results",
    });
    this.footer = element("div", { class: "pm-search-meaning" });
    const parts = [this.status, this.list, this.footer];
    this.panel = element("div", { class: "pm-search-panel", hidden: "" }, ...parts);
    const box = [label, icon, this.input, key, this.panel];
    this.root = element("div", { class: "pm-search", role: "search" }, ...box);
    slot.replaceChildren(this.root);

    this.input.addEventListener("input", () => this.schedule());
    this.input.addEventListener("focus", () => this.onFocus());
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.root.addEventListener("focusout", (event) => {
      if (!this.root.contains(event.relatedTarget)) this.close();
    });
    // Clicks in the panel keep the focus in the field (and the narrow header expanded).
    this.panel.addEventListener("mousedown", (event) => event.preventDefault());
    this.list.addEventListener("pointermove", (event) => {
      const option = event.target.closest?.("[role=option]");
      if (option) this.setActive(Number(option.dataset.index), { scroll: false });
    });
    this.list.addEventListener("click", () => this.close());
  }

  attach(site) {
    this.site = site;
    this.meaning = new MeaningSearch(site, () => this.onMeaningChange());
    this.renderMeaning();
    this.stopwords = new Set(site.index?.stopwords);
    if (!site.index) this.root.classList.add("pm-search-off");
    site.addEventListener("assistant-open", () => this.close()); // it would sit under the panel
  }

  // The page-wide shortcuts: `/` outside text fields, Ctrl/Cmd+K anywhere.
  onPageKey(event) {
    if (this.root.classList.contains("pm-search-off")) return;
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    const slash = event.key === "/" && plain && !isEditable(event.target);
    const commandK = event.key?.toLowerCase() === "k" && (event.ctrlKey || event.metaKey) &&
      !event.altKey && !event.shiftKey;
    if (!slash && !commandK) return;
    event.preventDefault();
    this.input.focus();
    this.input.select();
  }

  onFocus() {
    this.loadIndex().catch(() => {}); // fetch while the reader types; search() reports errors
    if (this.input.value.trim()) this.open();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.searchNow(), DEBOUNCE_MS);
  }

  // Runs the search the reader typed (at once, when Enter comes before the debounce ends).
  searchNow() {
    clearTimeout(this.timer);
    this.timer = 0;
    return this.search(this.input.value);
  }

  // The index, fetched once per page (shared with the assistant through the site).
  async loadIndex() {
    const site = await this.sitePromise;
    if (!site.index) throw new Error("this site was built without a search index");
    return timeout(site.searchIndex(), INDEX_TIMEOUT_MS, LATE_INDEX);
  }

  async search(text) {
    const query = text.trim();
    const generation = ++this.generation;
    this.query = query;
    if (!query) return this.showHits([]);
    this.open();
    try {
      const pending = this.loadIndex();
      if (!this.hits.length) this.say("Loading the search index…");
      const index = await pending;
      const completed = (await completeLastWord(index, text)).trim(); // "gi" completes, "gi " not
      const hits = await this.ranked(index, completed, null);
      if (generation !== this.generation) return;
      this.showHits(hits);
      // The embedder's manifest (some 300 KB) is read only after the first results.
      this.meaning?.startIfCached();
      if (this.meaning?.state === "ready") {
        // Without the vectors (offline, say), the keyword results stay.
        this.addMeaning(index, completed, generation).catch(() => {});
      }
    } catch (error) {
      if (generation === this.generation) this.fail(error);
    }
  }

  // Re-ranks the results with the query's vector once the embedder has computed it.
  async addMeaning(index, query, generation) {
    const vector = await this.meaning.vector(query);
    if (!vector || generation !== this.generation) return;
    const hits = await this.ranked(index, query, vector);
    if (generation === this.generation) this.showHits(hits, { byMeaning: true });
  }

  // One result per section, best first, at most RESULTS of them: the shards of the query's
  // terms and the texts of the chunks shown are all that is fetched (the vectors too, with
  // a query vector). By meaning, chunks that share no word with the query must be close in
  // meaning to be shown at all.
  async ranked(index, query, vector) {
    const { min_cosine } = index.ranking;
    const close = (figures) => figures.coverage > 0 || figures.cosine >= min_cosine;
    const ranking = await timeout(index.rank(query, vector), INDEX_TIMEOUT_MS, LATE_INDEX);
    const best = ranking.ids.slice(0, RANKED);
    const ids = vector ? best.filter((id) => close(ranking.figures(id))) : best;
    return timeout(index.topSections(ranking, ids, RESULTS), INDEX_TIMEOUT_MS, LATE_INDEX);
  }

  // Shows `hits`; after a search by meaning, those without a word of the query say so.
  showHits(hits, { byMeaning = false } = {}) {
    const activeId = this.hits[this.active]?.id;
    this.hits = hits;
    this.list.dataset.query = this.query; // what the results answer, while the reader types on
    const terms = queryTerms(this.query, this.stopwords);
    this.list.replaceChildren(
      ...hits.map((hit, i) => this.option(hit, i, terms, byMeaning)),
    );
    this.active = -1;
    if (activeId !== undefined) this.setActive(hits.findIndex((hit) => hit.id === activeId));
    if (!this.query) return this.close();
    if (hits.length) {
      const count = `${hits.length} result${hits.length === 1 ? "" : "s"}`;
      this.say(count, { hidden: true });
    } else {
      this.say(`No results for “${this.query}”`);
    }
  }

  option(hit, i, terms, byMeaning) {
    const [page, ...sections] = (hit.breadcrumb || hit.heading || hit.page).split(BREADCRUMB);
    const title = element("span", { class: "pm-hit-title" });
    appendHighlighted(title, page, terms);
    const section = element("span", { class: "pm-hit-section" });
    appendHighlighted(section, sections.join(BREADCRUMB), terms);
    const snippet = element("span", { class: "pm-hit-snippet" });
    appendHighlighted(snippet, hit.text, terms);
    const link = siteLink(hit.url, this.site.root, { tabindex: "-1" }, title);
    if (sections.length) link.append(section);
    link.append(snippet);
    if (byMeaning && !link.querySelector("mark")) {
      snippet.before(element("span", { class: "pm-hit-tag" }, "by meaning"));
    }
    return element("li", {
      id: `pagemind-search-option-${i}`,
      role: "option",
      "aria-selected": "false",
      class: "pm-hit",
      "data-index": String(i),
    }, link);
  }

  setActive(i, { scroll = true } = {}) {
    const options = this.list.children;
    options[this.active]?.setAttribute("aria-selected", "false");
    this.active = i >= 0 && i < options.length ? i : -1;
    const option = options[this.active];
    if (!option) return this.input.removeAttribute("aria-activedescendant");
    option.setAttribute("aria-selected", "true");
    this.input.setAttribute("aria-activedescendant", option.id);
    if (scroll) option.scrollIntoView({ block: "nearest" });
  }

  onKey(event) {
    const count = this.hits.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!this.isOpen()) return this.input.value.trim() && this.open();
      const step = event.key === "ArrowDown" ? 1 : -1;
      const first = step > 0 ? 0 : count - 1;
      if (count) this.setActive(this.active < 0 ? first : (this.active + step + count) % count);
    } else if (event.key === "Enter" && this.input.value.trim()) {
      event.preventDefault();
      if (this.timer) this.searchNow().then(() => this.go(this.list.children[0]));
      else this.go(this.list.children[Math.max(this.active, 0)]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      if (this.isOpen()) this.close();
      else if (this.input.value) {
        this.input.value = "";
        this.search("");
      } else this.input.blur();
    }
  }

  go(option) {
    const link = option?.querySelector("a[href]"); // none when safe_url.js refused the URL
    if (!link) return;
    this.close();
    window.location.assign(link.href);
  }

  onMeaningChange() {
    this.renderMeaning();
    if (this.meaning.state === "loading" && this.site.index.vectors) {
      // The chunks' sign bits come with the embedder, not before the first keyword result.
      this.loadIndex().then((index) => index.signs()).catch(() => {});
    }
    if (this.meaning.state === "ready" && this.query) this.search(this.query);
  }

  // The panel's footer: the offer to add meaning-based results, their loading, or their state.
  renderMeaning() {
    const { state } = this.meaning;
    this.footer.hidden = state === "unavailable";
    if (state === "offer" || state === "failed") this.footer.replaceChildren(...this.offer());
    if (state === "loading") this.footer.replaceChildren(...this.loadingProgress());
    if (state === "ready") this.footer.replaceChildren("Keyword and meaning-based results");
  }

  offer() {
    const { state, error, downloadBytes } = this.meaning;
    const size = element("span", { class: "pm-meaning-size" }, ` · ${megabytes(downloadBytes)}`);
    const label = state === "offer" ? "Add meaning-based results" : "Try again";
    const button = element("button", { type: "button", class: "pm-meaning-button" }, label, size);
    button.title = "Downloads the embedding model once; later visits load it from the cache";
    button.addEventListener("click", () => {
      this.input.focus(); // the button is about to be replaced
      this.meaning.start();
    });
    if (state === "offer") return [button];
    const reason = `Meaning-based results are unavailable: ${error}`;
    return [element("span", { class: "pm-meaning-error" }, reason), button];
  }

  loadingProgress() {
    const { loaded = 0, total = this.meaning.downloadBytes, source } = this.meaning.progress ?? {};
    const bytes = `${megabytes(loaded)} of ${megabytes(total)}`;
    const amount = source === "cache" ? "from the cache" : bytes;
    const bar = element("progress", { max: String(total || 1), value: String(loaded) });
    bar.setAttribute("aria-label", "Loading meaning-based search");
    return [element("span", {}, `Loading meaning-based search… ${amount}`), bar];
  }

  say(message, { hidden = false } = {}) {
    this.status.textContent = message;
    this.status.classList.toggle("pm-visually-hidden", hidden);
  }

  fail(error) {
    this.list.replaceChildren();
    this.hits = [];
    this.say(`Search is unavailable: ${error.message || error}`);
  }

  isOpen() {
    return !this.panel.hidden;
  }

  open() {
    this.panel.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.panel.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.setActive(-1);
  }
}
