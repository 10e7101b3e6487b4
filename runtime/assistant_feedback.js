// Thumbs up/down on the assistant's answers, kept in this browser only (localStorage), with
// the question, the answer and its sources, so an author testing the docs can export them
// as JSON and see where the docs fall short (`pagemind feedback` summarizes the exports).
//
// A thumbs-down also lowers the answer's sources in this reader's next rankings
// (lowerFound): their scores are multiplied by LOWER_FACTOR per thumbs-down, down to
// LOWEST. A thumbs-up raises nothing: one reader's praise of an answer says nothing about
// the sections it did not use, and raising its sources would push them into unrelated
// questions' answers. Resetting forgets the lowering, not the ratings (they stay exportable).

import { bestPassage } from "./passage.js";

const KEY = "pagemind-assistant-feedback";
const RESET_KEY = "pagemind-assistant-feedback-reset";
export const FEEDBACK_FORMAT = "pagemind-feedback/1";

// On pagemind's own docs (bench/questions/pagemind_qa.jsonl), one thumbs-down (x0.85) puts
// the runner-up first in 14 of 24 questions, those where a second section scores within 15%
// of the first; where one section clearly leads, it stays first. Lowered twice (x0.72), a
// section still scores above the unrelated ones, so it keeps answering when it alone is
// relevant.
const LOWER_FACTOR = 0.85;
const LOWEST = LOWER_FACTOR ** 2;

export function readFeedback() {
  try {
    const entries = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(entries) ? entries : [];
  } catch {
    return []; // storage blocked or the value damaged: start afresh
  }
}

// Stores (or replaces, for the same `id`) one rating; false when the browser refuses.
export function rate({ id, rating, question, answer, sources }) {
  const entry = {
    id,
    rating, // "up" | "down"
    question,
    answer,
    sources: sources.map(({ url, heading, breadcrumb }) => ({ url, heading, breadcrumb })),
    page: location.pathname,
    time: new Date().toISOString(),
  };
  const entries = readFeedback().filter((old) => old.id !== id);
  return store(KEY, [...entries, entry]);
}

// The sections this reader's thumbs-down lowered since the last reset, on the site under
// `siteRoot`: url -> {url, heading, breadcrumb, downs}.
export function loweredSections(siteRoot) {
  const root = new URL(siteRoot).pathname;
  const since = readStored(RESET_KEY) ?? "";
  const lowered = new Map();
  for (const entry of readFeedback()) {
    const counts = entry.rating === "down" && entry.time > since && entry.page?.startsWith(root);
    for (const source of counts ? entry.sources ?? [] : []) {
      const known = lowered.get(source.url) ?? { ...source, downs: 0 };
      lowered.set(source.url, { ...known, downs: known.downs + 1 });
    }
  }
  return lowered;
}

// Every section ranks as if this reader had never rated an answer down.
export function resetLowered() {
  return store(RESET_KEY, new Date().toISOString());
}

// `found` ({evidence, covered, passage}, assistant_chat.js) with the lowered sections moved
// down as their lowered scores say, and the passage taken from the new first section. Whether
// the docs cover the question stays as the unlowered scores judged it. Without lowered
// sections, `found` itself: the ranking `pagemind ask` gives.
export function lowerFound(found, lowered, grounding) {
  const { evidence } = found;
  const scores = evidence.sections.map((section) =>
    lowerScore(section.score, lowered.get(section.url)?.downs ?? 0),
  );
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  if (order.every((old, place) => old === place)) return found;
  const placeOf = new Map(order.map((old, place) => [old, place]));
  const units = evidence.units
    .map((unit) => ({ ...unit, section: placeOf.get(unit.section) }))
    .sort((a, b) => a.section - b.section); // stable: reading order within a section stays
  const reordered = { ...evidence, sections: order.map((i) => evidence.sections[i]), units };
  const passage = found.covered ? bestPassage(reordered, grounding) : null;
  return { ...found, evidence: reordered, passage };
}

function lowerScore(score, downs) {
  if (!downs) return score;
  const factor = Math.max(LOWER_FACTOR ** downs, LOWEST);
  return score - Math.abs(score) * (1 - factor); // lower even where a score is negative
}

// Saves every rating as a JSON file (the browser's download).
export function exportFeedback() {
  const data = { format: FEEDBACK_FORMAT, site: location.origin, feedback: readFeedback() };
  const blob = new Blob([JSON.stringify(data, null, 1)], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "pagemind-feedback.json";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function readStored(key) {
  try {
    return JSON.parse(localStorage.getItem(key));
  } catch {
    return null;
  }
}

// false when the browser refuses (storage blocked or full).
function store(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}
