// Sampling settings for the program's sample phase: the GPU applies the repetition penalty,
// keeps the best candidates (top-k), then temperature and top-p, and draws with a number the
// CPU supplies from a seeded generator, in the order of llama.cpp, Hugging Face and pagemind's
// numpy reference (models/generate.py, which draws exactly so). Greedy picks need no sample
// phase: the program's top_k kernel gives them.

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

// The sample phase's variables for the token after `nHistory` answer tokens, each call with
// the generator's next number; `programTopK` candidates at most (the program's top_k).
export function sampleVariables(settings, programTopK) {
  const random = seededRandom(settings.seed);
  const candidates = settings.topK > 0 ? Math.min(settings.topK, programTopK) : programTopK;
  return (nHistory) => ({
    n_history: nHistory,
    repetition_penalty: settings.repetitionPenalty,
    candidates,
    temperature: settings.temperature,
    top_p: settings.topP,
    random: random(),
  });
}
