// The passage: the docs' own words that best answer a question, quoted verbatim with a link
// to their section, shown before (and without) any model; and, when the runner-up section
// covers the question on its own, a shorter quote of it (`also`). The same units as
// pagemind.assistant.passage in Python (parity-tested; its docstring gives the rules).
//
//   bestPassage(evidence, grounding)
//   // {text, url, heading, breadcrumb, also: {text, url, heading, breadcrumb} | null} or null

import { sectionCovers, unitsOf } from "./evidence.js";
import { joinUnits } from "./sentences.js";

export function bestPassage(evidence, grounding) {
  const best = quote(evidence, 0, grounding.passage_chars, grounding);
  if (!best) return null;
  const also = sectionCovers(evidence, 1, grounding)
    ? quote(evidence, 1, grounding.runner_up_chars, grounding)
    : null;
  return { ...best, also };
}

function quote(evidence, section, chars, grounding) {
  const units = section < evidence.sections.length ? unitsOf(evidence, section) : [];
  if (!units.length) return null;
  const chosen = [...choose(units, chars, grounding)].sort((a, b) => a - b);
  const { url, heading, breadcrumb } = evidence.sections[section];
  return { text: joinUnits(chosen.map((i) => units[i].unit)), url, heading, breadcrumb };
}

// The places of a section's units in the order they are quoted, best first: each unit with
// the neighbour it cannot be read without (passage.py's quote_order). The passage takes
// them in this order, and so does the prompt when it condenses a section.
export function quoteOrder(units, grounding) {
  const prior = grounding.code_prior;
  const scores = units.map(({ unit, score }) => score + (unit.text.includes("`") ? prior : 0));
  const order = units.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.map((i) => [i, ...neededBy(units, i, grounding.label_chars)]);
}

function choose(units, chars, grounding) {
  const chosen = new Set();
  let length = 0;
  for (const group of quoteOrder(units, grounding)) {
    if (chosen.size && length >= chars) break;
    const added = group.filter((j) => !chosen.has(j));
    // Characters as Python counts them (code points), so both sides cut at the same unit.
    const cost = added.reduce((sum, j) => sum + [...units[j].unit.text].length, 0);
    if (chosen.size && length + cost > 2 * chars) continue;
    for (const j of added) chosen.add(j);
    length += cost;
  }
  return chosen;
}

// The neighbour unit `i` cannot be read without.
function neededBy(units, i, labelChars) {
  const { unit } = units[i];
  const heads = unit.text.endsWith(":") || isLabel(units, i, labelChars);
  if (i + 1 < units.length && heads) return [i + 1];
  if (i > 0 && unit.kind === "code") return [i - 1];
  const label = blockStart(units, i) - 1;
  return label >= 0 && isLabel(units, label, labelChars) ? [label] : [];
}

// The place of the first unit of unit `i`'s paragraph or item.
function blockStart(units, i) {
  let start = i;
  while (start > 0 && units[start - 1].unit.block === units[i].unit.block) start -= 1;
  return start;
}

// A short paragraph of one unit without a sentence's end, above one that is not: a
// definition's term, a note's title; not a table's rows (passage.py's _is_label).
function isLabel(units, i, labelChars) {
  return isBare(units, i, labelChars) && i + 1 < units.length && !isBare(units, i + 1, labelChars);
}

function isBare(units, i, labelChars) {
  const { unit } = units[i];
  const alone = [i - 1, i + 1].every((j) => !units[j] || units[j].unit.block !== unit.block);
  return (
    unit.kind === "sentence" && alone && [...unit.text].length <= labelChars &&
    !".!?:;,".includes(unit.text.at(-1))
  );
}
