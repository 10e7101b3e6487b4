// The evidence for a question: the first ranking's best sections cut into units, every unit
// scored against the question, and the sections ranked again by their best unit, the same
// as pagemind.assistant.evidence in Python (parity-tested; its docstring gives the scores).
//
//   const hits = await index.hybrid(query, vector, grounding.candidate_chunks);
//   const candidates = await candidateSections(hits, index, grounding);
//   const unitVectors = await runtime.embed(unitTexts(candidates));   // or null: keywords
//   const termWeights = await index.termWeights(query);
//   const evidence = weigh(candidates, vector, unitVectors, termWeights, grounding);
//   covers(evidence, index)      // do the docs hold an answer?
//   promptPlaces(evidence, topK, grounding)   // the sections the prompt quotes
//   evidence: {sections, units: [{section, unit, score}], weighed}

import { BREADCRUMB, keywordTerms, sections } from "./retrieval.js";
import { cutUnits } from "./sentences.js";

// The sections weighed for a question, from the first ranking's chunks, each with its chunks
// next to those (the SearchIndex's, numbered as the hits are).
export async function candidateSections(hits, index, grounding) {
  const candidates = sections(hits).slice(0, grounding.candidate_sections);
  return Promise.all(candidates.map((section) => withNeighbours(section, index)));
}

// The section with the chunks on either side of its own, where they are of the section too:
// chunks are cut at a size, and the code block a sentence introduces often opens the next.
async function withNeighbours(section, index) {
  const near = [...new Set(section.chunks.flatMap((id) => [id - 1, id, id + 1]))]
    .filter((id) => id >= 0 && id < index.count)
    .sort((a, b) => a - b);
  const chunks = await Promise.all(near.map((id) => index.chunk(id)));
  const own = near.map((id, i) => [id, chunks[i]]).filter(([, chunk]) => chunk.url === section.url);
  if (own.length === section.chunks.length) return section;
  const text = own.map(([, chunk]) => chunk.text).join("\n\n");
  return { ...section, text, chunks: own.map(([id]) => id) };
}

// What the embedder reads of each unit of each section, in order: the section's breadcrumb
// and the unit, a code block with the unit before it, which introduces it (evidence.py).
export function unitTexts(candidates) {
  return candidates.flatMap((section) =>
    cutUnits(section.text).map((unit, i, units) => {
      const introduced = unit.kind === "code" && i > 0;
      return `${section.breadcrumb}\n${introduced ? `${units[i - 1].text}\n` : ""}${unit.text}`;
    }),
  );
}

export function weigh(candidates, queryVector, unitVectors, termWeights, grounding) {
  const perSection = candidates.map((section) => cutUnits(section.text));
  let scores;
  let ranked;
  if (!unitVectors) {
    scores = perSection.map((units) =>
      units.map((unit) => coverage(unit.text, termWeights, grounding)),
    );
    ranked = candidates;
  } else {
    const cosines = unitVectors.map((vector) => cosine(vector, queryVector));
    let start = 0;
    scores = perSection.map((units) => cosines.slice(start, (start += units.length)));
    const { keyword_weight: weight } = grounding;
    ranked = candidates.map((section, i) => {
      const best = scores[i].length ? Math.max(...scores[i]) : -1;
      return { ...section, score: (best + section.cosine) / 2 + weight * section.strength };
    });
  }
  let order = ranked.map((_, i) => i).sort((a, b) => ranked[b].score - ranked[a].score || a - b);
  if (unitVectors) order = subsectionFirst(order, ranked, grounding);
  return {
    sections: order.map((i) => ranked[i]),
    units: order.flatMap((i, place) =>
      perSection[i].map((unit, j) => ({ section: place, unit, score: scores[i][j] })),
    ),
    weighed: Boolean(unitVectors),
  };
}

// `order` with the best section's best subsection that covers the question on its own moved
// first: an opening text reads close to many questions on its topic, the subsection answers
// (evidence.py's _subsection_first).
function subsectionFirst(order, ranked, grounding) {
  const best = ranked[order[0]];
  const place = order.findIndex(
    (i, p) => p > 0 && isWithin(ranked[i], best) && coversAlone(ranked[i], grounding),
  );
  if (place < 0) return order;
  return [order[place], ...order.slice(0, place), ...order.slice(place + 1)];
}

function isWithin(section, outer) {
  const prefix = outer.breadcrumb + BREADCRUMB;
  return section.page === outer.page && section.breadcrumb.startsWith(prefix);
}

export function unitsOf(evidence, section) {
  return evidence.units.filter((unit) => unit.section === section);
}

// Whether the docs hold an answer: the best section covers it; keyword-only, as the search
// box judges.
export function covers(evidence, index, grounding) {
  if (!evidence.weighed) return index.isRelevant(evidence.sections);
  return sectionCovers(evidence, 0, grounding);
}

// Whether the section at `place` holds an answer on its own: weighed, it scores min_score or
// more or holds min_coverage of the question's idf mass (keyword-only evidence judges no
// single section).
export function sectionCovers({ weighed, sections }, place, grounding) {
  return weighed && place < sections.length && coversAlone(sections[place], grounding);
}

function coversAlone({ score, coverage }, grounding) {
  return score >= grounding.min_score || coverage >= grounding.min_coverage;
}

// The sections a prompt quotes, of the best `topK`: the best, and each other that covers the
// question on its own (all of them when no section can be judged).
export function promptPlaces(evidence, topK, grounding) {
  const places = [...evidence.sections.keys()].slice(0, topK);
  return places.filter(
    (place) => place === 0 || !evidence.weighed || sectionCovers(evidence, place, grounding),
  );
}

function coverage(text, termWeights, grounding) {
  let total = 0;
  for (const weight of termWeights.values()) total += weight;
  if (!total) return 0;
  const present = new Set(keywordTerms(text, grounding.stopwords));
  let found = 0;
  for (const [term, weight] of termWeights) if (present.has(term)) found += weight;
  return found / total;
}

function cosine(vector, query) {
  let dot = 0;
  let norm = 0;
  let queryNorm = 0;
  for (let i = 0; i < vector.length; i++) {
    dot += vector[i] * query[i];
    norm += vector[i] * vector[i];
    queryNorm += query[i] * query[i];
  }
  return dot / Math.sqrt(queryNorm) / Math.sqrt(norm);
}
