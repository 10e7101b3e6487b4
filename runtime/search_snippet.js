// The snippet under a search result: the stretch of a section's text where the query's
// words gather, with those words marked. Built from text nodes and <mark> elements, so
// nothing in the docs' text is ever parsed as HTML.

const WORD = /[\p{L}\p{N}]+/gu; // words as the index cuts them (runtime/retrieval.js)
const LENGTH = 170; // characters shown, about two lines of the results panel
const LEAD = 40; // characters kept before the first marked word, for context

// The query's words, lower-cased, each once, without the index's stop words ("the", "do").
export function queryTerms(query, stopwords) {
  const words = (query.toLowerCase().match(WORD) ?? []).filter((word) => !stopwords.has(word));
  return [...new Set(words)];
}

// A text word matches a query word that begins it (typing "deplo" marks "deploying"), and
// one it begins if it is not too short (asking for "pages" marks "page"), like the index's
// stemming does.
function matches(word, terms) {
  const lower = word.toLowerCase();
  return terms.some(
    (term) => lower === term || (term.length >= 2 && lower.startsWith(term)) ||
      (lower.length >= 4 && term.startsWith(lower)),
  );
}

// [start, end) of every word of `text` that matches a term.
function markedRanges(text, terms) {
  const ranges = [];
  for (const found of text.matchAll(WORD)) {
    if (matches(found[0], terms)) ranges.push([found.index, found.index + found[0].length]);
  }
  return ranges;
}

// The window start that holds the most distinct marked words.
function bestStart(text, ranges) {
  let best = 0;
  let bestCount = 0;
  for (const [start] of ranges) {
    const from = Math.max(0, start - LEAD);
    const inside = ranges.filter(([s, e]) => s >= from && e <= from + LENGTH);
    const distinct = new Set(inside.map(([s, e]) => text.slice(s, e).toLowerCase())).size;
    if (distinct > bestCount) [best, bestCount] = [from, distinct];
  }
  return best;
}

// Cut at word boundaries so no word is shown in part.
function wordWindow(text, start) {
  let from = start;
  if (from > 0) from = text.indexOf(" ", from) + 1 || from;
  let to = Math.min(text.length, from + LENGTH);
  if (to < text.length) to = text.lastIndexOf(" ", to) > from ? text.lastIndexOf(" ", to) : to;
  return [from, to];
}

// A chunk's text (pagemind.search_index.chunks) as one line of words: without the fences,
// backticks and list markers that mark its code and lists.
function plainText(text) {
  return text
    .replace(/^\s*(?:```|~~~).*$/gm, " ")
    .replace(/^\s*(?:[-*+]|\d{1,3}[.)])\s+/gm, "")
    .replace(/`/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

// [{text, marked}] pieces of the snippet of `text` for `terms`, with "…" where it is cut.
export function snippetPieces(text, terms) {
  const flat = plainText(text);
  const ranges = markedRanges(flat, terms);
  const [from, to] = wordWindow(flat, bestStart(flat, ranges));
  const pieces = from > 0 ? [{ text: "…", marked: false }] : [];
  let at = from;
  for (const [start, end] of ranges) {
    if (start < from || end > to) continue;
    if (start > at) pieces.push({ text: flat.slice(at, start), marked: false });
    pieces.push({ text: flat.slice(start, end), marked: true });
    at = end;
  }
  if (at < to) pieces.push({ text: flat.slice(at, to), marked: false });
  if (to < flat.length) pieces.push({ text: "…", marked: false });
  return pieces;
}

// `text` with the words matching `terms` in <mark>, appended to `parent`.
export function appendHighlighted(parent, text, terms) {
  for (const piece of snippetPieces(text, terms)) {
    if (piece.marked) {
      const mark = parent.ownerDocument.createElement("mark");
      mark.textContent = piece.text;
      parent.append(mark);
    } else {
      parent.append(piece.text);
    }
  }
}
