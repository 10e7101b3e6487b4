// Choosing the next token, in the order of llama.cpp, Hugging Face and pagemind's numpy
// reference (models/generate.py): repetition penalty, temperature, top-k, top-p, then a
// seeded draw. Greedy picks need no logits on the CPU: the program's top_k kernel gives them.

export const GREEDY = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

export function isGreedy(settings) {
  return settings.temperature <= 0 && settings.repetitionPenalty === 1;
}

// mulberry32: a small seeded generator, so a seed replays the same answer.
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Tokens the answer already wrote become less likely: positive logits divided, negative
// multiplied. The prompt is not penalized: a grounded answer should reuse the docs' words.
export function penalizeRepetition(logits, history, penalty) {
  if (penalty === 1 || history.length === 0) return logits;
  const result = Float32Array.from(logits);
  for (const id of new Set(history)) {
    result[id] = result[id] > 0 ? result[id] / penalty : result[id] * penalty;
  }
  return result;
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

export function sampleToken(logits, history, settings, random) {
  const penalized = penalizeRepetition(logits, history, settings.repetitionPenalty);
  if (settings.temperature <= 0) return argmax(penalized);
  const max = penalized[argmax(penalized)];
  const weights = Array.from(penalized, (logit) => Math.exp((logit - max) / settings.temperature));
  // Stable descending order: ties keep the lower id first, as numpy's stable argsort does.
  let candidates = weights.map((_, id) => id).sort((a, b) => weights[b] - weights[a] || a - b);
  if (settings.topK > 0) candidates = candidates.slice(0, settings.topK);
  // The smallest prefix whose probability reaches top_p (at least one token).
  const kept = candidates.reduce((sum, id) => sum + weights[id], 0);
  let cumulative = 0;
  let cutoff = 0;
  while (cutoff < candidates.length - 1) {
    cumulative += weights[candidates[cutoff]];
    if (cumulative >= settings.topP * kept) break;
    cutoff++;
  }
  candidates = candidates.slice(0, cutoff + 1);
  const mass = candidates.reduce((sum, id) => sum + weights[id], 0);
  let draw = random() * mass;
  for (const id of candidates) {
    draw -= weights[id];
    if (draw < 0) return id;
  }
  return candidates[candidates.length - 1]; // rounding left a sliver of `draw`
}
