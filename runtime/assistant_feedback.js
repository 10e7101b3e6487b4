// Thumbs up/down on the assistant's answers, kept in this browser only (localStorage), with
// the question, the answer and its sources, so an author testing the docs can export them
// as JSON and see where the docs fall short.

const KEY = "pagemind-assistant-feedback";
export const FEEDBACK_FORMAT = "pagemind-feedback/1";

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
  try {
    localStorage.setItem(KEY, JSON.stringify([...entries, entry]));
    return true;
  } catch {
    return false;
  }
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
