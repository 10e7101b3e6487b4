// The passage: the docs' own words that best answer a question, quoted verbatim with a link
// to their section, shown before (and without) any model. The same units as
// pagemind.assistant.passage in Python (parity-tested; its docstring gives the rules).
//
//   bestPassage(evidence, grounding)   // {text, url, heading, breadcrumb} or null

import { unitsOf } from "./evidence.js";
import { joinUnits } from "./sentences.js";

export function bestPassage(evidence, grounding) {
  const units = unitsOf(evidence, 0);
  if (!units.length) return null;
  const chosen = [...choose(units, grounding)].sort((a, b) => a - b);
  const { url, heading, breadcrumb } = evidence.sections[0];
  return { text: joinUnits(chosen.map((i) => units[i].unit)), url, heading, breadcrumb };
}

function choose(units, { code_prior: codePrior, passage_chars: passageChars }) {
  const scores = units.map(({ unit, score }) => score + (unit.text.includes("`") ? codePrior : 0));
  const order = units.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const chosen = new Set();
  let length = 0;
  for (const i of order) {
    if (chosen.size && length >= passageChars) break;
    const added = [i, ...neededBy(units, i)].filter((j) => !chosen.has(j));
    // Characters as Python counts them (code points), so both sides cut at the same unit.
    const cost = added.reduce((sum, j) => sum + [...units[j].unit.text].length, 0);
    if (chosen.size && length + cost > 2 * passageChars) continue;
    for (const j of added) chosen.add(j);
    length += cost;
  }
  return chosen;
}

// The neighbour unit `i` cannot be read without.
function neededBy(units, i) {
  const { unit } = units[i];
  if (unit.text.endsWith(":") && i + 1 < units.length) return [i + 1];
  if (unit.kind === "code" && i > 0) return [i - 1];
  return [];
}
