// One question and its answer in the assistant panel's conversation (panel.js): the
// question, "From the docs" (the passage, and "Also in the docs" where it quotes the runner-up
// section too), the answer as it streams, sentence by sentence
// with citations, "Why this answer" (the sentences held back as not in the docs), the
// sources, then copy, ratings and "Report a gap"; an answer from the answer cache shows
// the same, marked, with "Ask again". It shows what assistant_chat.js returns and decides
// nothing; text reaches the page only through render_text.js and text nodes, URLs only
// through safe_url.js (and report_gap.js).

import { rate } from "./assistant_feedback.js";
import { citedText } from "./attribution.js";
import { element } from "./dom.js";
import { NOT_COVERED } from "./prompt.js";
import { renderText } from "./render_text.js";
import { reportHref } from "./report_gap.js";
import { siteHref, siteLink } from "./safe_url.js";

const NOTHING_SUPPORTED =
  "No sentence of the model's answer could be found in the docs, so none is shown: the " +
  "passage above is what the docs say.";
const NO_ANSWER = "The model wrote no answer of its own: the passage above is what the docs say.";
const CUT_OFF = "The answer reached its length limit; its unfinished sentence is not shown.";
const NEAREST = 5; // sections listed when the docs do not cover a question
const THUMB_UP =
  "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3a1.5 1.5 0 0 0-.4-1.1L13.2 1 6.6 " +
  "7.6A2 2 0 0 0 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";

let turnCount = 0;

export class Turn {
  constructor(panel, question) {
    this.panel = panel;
    this.site = panel.site;
    this.question = question;
    this.id = `${Date.now()}-${turnCount++}`;
    this.sources = [];
    this.claims = [];
    this.text = "";
    this.covered = true;
    this.passage = null;
    this.nearest = [];
    this.notes = [];
    this.held = [];
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

  // What retrieval found, before any generation: the passage, or when the docs do not
  // cover the question, says so and lists the nearest sections.
  showFound({ evidence, covered, passage }, nearestLabel) {
    this.showPassage(passage);
    if (!covered) this.notCovered(evidence.sections.slice(0, NEAREST), nearestLabel);
  }

  notCovered(nearest, label) {
    this.covered = false;
    this.nearest = nearest;
    this.answer.replaceChildren(element("p", {}, NOT_COVERED));
    this.list(nearest, label);
    const report = this.reportLink();
    if (report) this.element.append(element("p", { class: "pm-report-gap" }, report));
  }

  // An answer the answer cache kept (record()), shown again as it was, marked, with a
  // button that asks afresh.
  showCached(answer, askAgain) {
    this.showPassage(answer.passage);
    if (!answer.covered) this.notCovered(answer.nearest, "Nearest sections");
    else {
      this.sources = answer.sources;
      this.text = answer.text;
      this.showText(true);
      this.complete(answer.notes, answer.held);
    }
    const again = element("button", { type: "button", class: "pm-link-button" }, "Ask again");
    again.addEventListener("click", askAgain);
    this.element.append(element("p", { class: "pm-cached" },
      "Answered before, from this browser. ", again));
    this.done();
  }

  // What the answer cache keeps of a finished turn, for showCached.
  record() {
    const brief = ({ url, heading, breadcrumb }) => ({ url, heading, breadcrumb });
    const { covered, passage, text, notes, held } = this;
    const [sources, nearest] = [this.sources.map(brief), this.nearest.map(brief)];
    return { covered, passage, nearest, text, sources, notes, held };
  }

  // The answer without a model: the passage and the sections the keywords found.
  showSearch(found) {
    this.showFound(found, "Search results");
    if (found.covered) {
      this.answer.replaceChildren();
      this.list(found.evidence.sections.slice(0, NEAREST), "Search results");
    }
    this.done();
  }

  showPassage(passage) {
    this.passage = passage;
    if (passage) this.answer.before(this.passageBlock(passage));
  }

  // The best section's quote, then the runner-up's where the passage has one.
  passageBlock(passage) {
    const block = element("section", { class: "pm-passage", "aria-label": "From the docs" },
      ...this.quoteParts(passage, "From the docs", "pm-passage-source"));
    if (passage.also) {
      block.append(element("div", { class: "pm-passage-also" },
        ...this.quoteParts(passage.also, "Also in the docs", "pm-passage-also-source")));
    }
    return block;
  }

  quoteParts(quote, label, sourceClass) {
    const link = siteLink(quote.url, this.site.root, {}, quote.breadcrumb || quote.heading);
    const text = element("blockquote", {});
    text.append(renderText(quote.text, { siteRoot: this.site.root }));
    return [
      element("p", { class: "pm-passage-label" }, label),
      text,
      element("p", { class: sourceClass }, "— ", link),
    ];
  }

  showSources(sources) {
    this.sources = sources;
    this.answer.replaceChildren(element("p", { class: "pm-assistant-note" }, "Writing…"));
  }

  // The claims so far, rendered at most once a frame however fast the tokens come.
  showClaims(claims) {
    this.claims = claims;
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.render(false);
    });
  }

  render(done) {
    this.text = citedText(this.claims);
    this.showText(done);
  }

  showText(done) {
    const parts = [];
    if (this.text) {
      parts.push(renderText(this.text, { siteRoot: this.site.root, sources: this.sources }));
    }
    if (!done) parts.push(element("p", { class: "pm-assistant-note" }, "Writing…"));
    this.answer.replaceChildren(...parts);
  }

  finish({ claims, reason }) {
    cancelAnimationFrame(this.frame);
    if (reason === "not-covered") return this.done();
    this.claims = claims;
    this.render(true);
    const held = claims.filter((claim) => claim.reason);
    this.complete(endNotes(reason, this.text, claims),
      held.map(({ unit, reason }) => ({ text: unit.text, reason })));
  }

  // Below an answer, fresh or kept: why it ended, the sentences held back, sources, actions.
  complete(notes, held) {
    this.notes = notes;
    this.held = held;
    for (const text of notes) this.note(text, { append: true });
    if (held.length) this.element.append(heldBack(held));
    this.list(this.sources, "Sources");
    this.element.append(this.actions());
    this.done();
  }

  fail(error) {
    cancelAnimationFrame(this.frame);
    this.note(`No answer: ${error.message ?? error}`);
  }

  note(text, { append = false } = {}) {
    const note = element("p", { class: "pm-assistant-note" }, text);
    if (append) this.answer.append(note);
    else this.answer.replaceChildren(note);
    this.done();
  }

  done() {
    this.answer.setAttribute("aria-busy", "false");
    this.element.scrollIntoView({ block: "end" });
  }

  // Links to sections (an answer's sources, search results), appended to the turn.
  list(hits, label) {
    if (!hits.length) return;
    const list = element("ol", { class: "pm-sources", "aria-label": label });
    for (const hit of hits) {
      const link = siteLink(hit.url, this.site.root, {}, hit.breadcrumb || hit.heading);
      list.append(element("li", {}, link));
    }
    this.element.append(list);
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
    const report = this.reportLink();
    return element("div", { class: "pm-actions" }, copy, ...buttons, ...(report ? [report] : []));
  }

  // A link to a prefilled new issue on the site's repository, or null without one.
  reportLink() {
    const { question, sources, text: answer } = this;
    const facts = { question, page: location.href, sources, answer };
    const href = this.panel.repoUrl && reportHref(this.panel.repoUrl, facts, this.site.root);
    if (!href) return null;
    return element("a", { class: "pm-report", href, target: "_blank", rel: "noopener noreferrer",
      title: "Opens a new issue, filled in, for you to read and submit" }, "Report a gap");
  }

  async copy(button) {
    const lines = this.sources.map((hit, i) =>
      `[${i + 1}] ${hit.breadcrumb || hit.heading}: ${siteHref(hit.url, this.site.root) ?? ""}`);
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
    this.panel.feedbackChanged(rating, sources);
  }
}

// What the reader is told under an ended answer: why nothing of it shows, and why it ended
// when the model did not end it itself.
function endNotes(reason, shown, claims) {
  if (reason === "stopped") return ["Stopped."];
  const notes = [];
  if (!shown && claims.length) notes.push(NOTHING_SUPPORTED);
  if (reason === "max-tokens" || reason === "context-full") notes.push(CUT_OFF);
  else if (!shown && !claims.length) notes.push(NO_ANSWER);
  return notes;
}

// "Why this answer": the sentences the model wrote that no source supports, greyed, with
// why; never shown as the answer.
function heldBack(claims) {
  const list = element("ul", { class: "pm-held-back" });
  for (const { text, reason } of claims) {
    list.append(element("li", {}, element("span", { class: "pm-held-text" }, text),
      element("span", { class: "pm-held-reason" }, ` (${reason})`)));
  }
  const count = claims.length === 1 ? "1 sentence the model wrote was" :
    `${claims.length} sentences the model wrote were`;
  return element("details", { class: "pm-why" },
    element("summary", {}, "Why this answer"),
    element("p", {}, "Each sentence of the answer is checked against the sources. " +
      `${count} not found in the docs, so not shown as the answer:`),
    list);
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
