// Every claim traced: an answer cut into units (sentences.js), each cited to the source it
// overlaps most, and held back when the sources do not support it (support.js), the same
// as pagemind.assistant.attribution in Python (parity-tested; its docstring gives the rules).
//
//   const attributor = new Attributor(sourceTexts, question, grounding);
//   attributor.claims(answerSoFar, false)    // complete units only, while it streams
//   attributor.claims(answer)                // [{unit, source, reason}]; reason "" = shown
//   citedText(claims)                        // the shown units, each with its [n]

import { cutUnits, FENCE, joinUnits } from "./sentences.js";
import { codeSpans, contentWords, SourceText, support } from "./support.js";

const MODEL_CITATION = / ?\[\d{1,2}\]/g;
const HAS_WORD = /[A-Za-z0-9]/;
export const CODE_NOT_FOUND = "code not in the docs";
export const NOT_SUPPORTED = "not in the docs";
export const RESTATES = "only restates the question";
export const INTRODUCES = "introduces what was held back";
export const REPEATS = "repeats an earlier sentence";

export class Attributor {
  constructor(sources, question, grounding) {
    this.grounding = grounding;
    this.sources = sources.map((text) => new SourceText(text, grounding));
    this.question = new SourceText(question, grounding);
    this.blocks = sources.map((text) => cutUnits(text).filter((unit) => unit.kind === "code"));
    // While an answer streams, claims() runs at every token: each finished unit is judged
    // once.
    this.claimsByUnit = new Map();
  }

  claims(answer, final = true) {
    const units = cutUnits(answer.replace(MODEL_CITATION, ""));
    if (!final) units.pop();
    const claims = withoutRepeats(units.map((unit) => this.claimOf(unit)));
    // A unit that introduces another (ends in ":") stands or falls with it.
    for (let i = claims.length - 1; i >= 0; i--) {
      if (claims[i].reason || !claims[i].unit.text.endsWith(":")) continue;
      const following = claims[i + 1];
      if (!following && !final) return claims.slice(0, i);
      if (!following || following.reason) claims[i] = { ...claims[i], reason: INTRODUCES };
    }
    return claims;
  }

  claimOf(unit) {
    const key = JSON.stringify([unit.text, unit.kind, unit.block]);
    if (!this.claimsByUnit.has(key)) this.claimsByUnit.set(key, this.judge(unit));
    return this.claimsByUnit.get(key);
  }

  judge(unit) {
    const words = contentWords(unit.text, this.grounding);
    const spans = codeSpans(unit);
    const supports = this.sources.map((source) => support(words, source, this.question));
    const codeFound = this.sources.map(
      (source) => spans.filter((span) => source.hasCode(span)).length,
    );
    // The most code, then the most words the question lacks, then the most words; the
    // first source on a tie.
    const rank = (i) => [codeFound[i], supports[i].novel, supports[i].found];
    let best = null;
    supports.forEach((_, i) => {
      if (best === null || before(rank(i), rank(best))) best = i;
    });
    if (best === null || !(supports[best].found || codeFound[best])) {
      return { unit, source: null, reason: NOT_SUPPORTED };
    }
    const claim = (reason) => ({ unit, source: best + 1, reason });
    if (spans.some((span) => !this.sources.some((source) => source.hasCode(span)))) {
      return this.snapped(unit, spans) ?? claim(CODE_NOT_FOUND);
    }
    const chosen = supports[best];
    if (chosen.words && chosen.found < this.grounding.support_share * chosen.words) {
      return claim(NOT_SUPPORTED);
    }
    const codeOfQuestion = spans.every((span) => this.question.hasCode(span));
    if (!chosen.novel && codeOfQuestion) return claim(RESTATES);
    return claim("");
  }

  // The source's code block that a garbled copy stands for, as a shown claim; null when the
  // unit is not a code block or copies none (grounding.snap_share of its lines).
  snapped(unit, spans) {
    const worded = spans.filter((span) => HAS_WORD.test(span)); // not "]" or "..."
    if (unit.kind !== "code" || !worded.length) return null;
    let best = null;
    let matched = 0;
    this.blocks.forEach((blocks, i) => {
      for (const block of blocks) {
        const lines = new Set(codeSpans(block));
        const count = worded.filter((span) => lines.has(span)).length;
        if (count > matched) [best, matched] = [{ block, source: i + 1 }, count];
      }
    });
    if (!best || matched < this.grounding.snap_share * worded.length) return null;
    return { unit: { ...best.block, block: unit.block }, source: best.source, reason: "" };
  }
}

// Whether ranking `a` beats `b`, element by element.
function before(a, b) {
  const differ = a.findIndex((value, i) => value !== b[i]);
  return differ >= 0 && a[differ] > b[differ];
}

// The claims, each that repeats one shown before held back.
function withoutRepeats(claims) {
  const shown = new Set();
  return claims.map((claim) => {
    if (claim.reason) return claim;
    if (shown.has(claim.unit.text)) return { ...claim, reason: REPEATS };
    shown.add(claim.unit.text);
    return claim;
  });
}

export function citedText(claims) {
  const shown = claims.filter((claim) => !claim.reason);
  return joinUnits(shown.map((claim) => ({ ...claim.unit, text: withCitation(claim) })));
}

function withCitation({ unit, source }) {
  if (unit.kind === "code") {
    // after the block, closed if the answer ended inside it
    const lines = unit.text.split("\n");
    const closed = lines.length > 1 && FENCE.test(lines.at(-1));
    return closed ? `${unit.text}\n[${source}]` : `${unit.text}\n\`\`\`\n[${source}]`;
  }
  const text = unit.text.trimEnd();
  const end = text.match(/[.!?:]*$/)[0].length;
  return `${text.slice(0, text.length - end)} [${source}]${text.slice(text.length - end)}`;
}
