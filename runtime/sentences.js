// Text cut into the units the assistant quotes, scores and checks: sentences, list items and
// code blocks, the same as pagemind.assistant.sentences in Python (parity-tested; its
// docstring gives the rules).
//
//   cutUnits(text)      // [{text, kind: "sentence" | "item" | "code", block}]
//   joinUnits(units)    // text again: sentences of one paragraph side by side, blocks apart

export const FENCE = /^\s*(```|~~~)/;
const LIST_ITEM = /^\s*(?:[-*+]|\d{1,3}[.)])\s+/;
// The end of a sentence: its punctuation, closing quotes or brackets, then white space.
const END = /[.!?]+["')\]]*\s+/g;
const NEXT_STARTS = /^[A-Z0-9`"'([]/;
const ABBREVIATION = /(?:^|[\s(])(?:e\.g|i\.e|etc|vs|cf|approx|incl|[A-Za-z])\.$/i;

export function cutUnits(text) {
  const units = [];
  blocks(text).forEach(({ kind, lines }, block) => {
    if (kind === "paragraph") {
      for (const sentence of splitSentences(lines.join(" "))) {
        units.push({ text: sentence, kind: "sentence", block });
      }
    } else {
      units.push({ text: lines.join(kind === "code" ? "\n" : " "), kind, block });
    }
  });
  return units;
}

export function splitSentences(paragraph) {
  const sentences = [];
  let start = 0;
  for (const end of paragraph.matchAll(END)) {
    const after = end.index + end[0].length;
    const before = paragraph.slice(start, end.index + 1);
    if (NEXT_STARTS.test(paragraph.slice(after, after + 1)) && !ABBREVIATION.test(before)) {
      sentences.push(paragraph.slice(start, after).trim());
      start = after;
    }
  }
  const rest = paragraph.slice(start).trim();
  return rest ? [...sentences, rest] : sentences;
}

export function joinUnits(units) {
  return units
    .map((unit, i) => {
      if (i === 0) return unit.text;
      return (units[i - 1].block === unit.block ? " " : "\n\n") + unit.text;
    })
    .join("");
}

// {kind: "code" | "item" | "paragraph", lines} in order; code keeps its fences.
function blocks(text) {
  const result = [];
  let current = null;
  for (const line of text.replace(/\r\n/g, "\n").replace(/\r/g, "\n").split("\n")) {
    if (current?.kind === "code") {
      current.lines.push(line);
      if (FENCE.test(line)) current = null;
    } else if (FENCE.test(line)) {
      current = { kind: "code", lines: [line] };
      result.push(current);
    } else if (!line.trim()) {
      current = null;
    } else if (LIST_ITEM.test(line)) {
      current = { kind: "item", lines: [line.trim()] };
      result.push(current);
    } else if (current) {
      current.lines.push(line.trim()); // a wrapped line of a paragraph or a list item
    } else {
      current = { kind: "paragraph", lines: [line.trim()] };
      result.push(current);
    }
  }
  return result;
}
