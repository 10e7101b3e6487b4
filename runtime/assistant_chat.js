// The assistant's conversation, without any UI: load the models, gather the evidence for a
// question (hybrid search, sections ranked again by their best sentence), quote the passage
// that answers it, build the prompt (prompt.js), stream the answer from the runtime worker
// biased toward the sources' words, check and cite each sentence as it completes, and keep
// the turns for follow-ups. Each step is a module shared name for name with
// pagemind.assistant in Python: evidence, passage, prompt, copy_bias, attribution.
//
//   const chat = new AssistantChat(site);
//   await chat.load(({loaded, total}) => ...);        // both models, bytes summed
//   const found = await chat.retrieve(question);      // {evidence, covered, passage}
//   const {claims, text, reason} = await chat.answer(question, found, {onSources, onClaims});
//   chat.stop();
//   await keywordAnswer(site, question)   // found without the models (keywords, CPU query vector)

import { Attributor, citedText } from "./attribution.js";
import { answerOpenings, copyBiasTokens, copySpanSource } from "./copy_bias.js";
import {
  candidateSections,
  covers,
  promptPlaces,
  unitsOf,
  unitTexts,
  weigh,
} from "./evidence.js";
import { bestPassage, quoteOrder } from "./passage.js";
import {
  buildPrompt,
  NOT_COVERED,
  PromptTokenizer,
  retrievalQuery,
  STOP_STRINGS,
} from "./prompt.js";
import { cachedQueryVector } from "./search_meaning.js";

const ROLES = ["embedder", "generator"];

// The grounding constants (assistant file) with what they need of the index.
function groundingOf(site, index) {
  return {
    ...site.assistant.grounding,
    stopwords: index.stopwords,
    keyword_weight: index.ranking.keyword_weight,
    min_coverage: index.ranking.min_coverage,
  };
}

// {evidence, covered, passage}: the passage only where the docs cover the question.
function found(evidence, index, grounding) {
  const covered = covers(evidence, index, grounding);
  return { evidence, covered, passage: covered ? bestPassage(evidence, grounding) : null };
}

// What the panel answers with without the models: the evidence by keywords, and by
// meaning too where the CPU embedder is at hand without a download; and its passage.
export async function keywordAnswer(site, question) {
  const [index, vector] = await Promise.all([
    site.searchIndex(),
    cachedQueryVector(site, question),
  ]);
  const grounding = groundingOf(site, index);
  const hits = await index.hybrid(question, vector, grounding.candidate_chunks);
  const candidates = await candidateSections(hits, index, grounding);
  const termWeights = await index.termWeights(question);
  const evidence = weigh(candidates, vector, null, termWeights, grounding);
  return found(evidence, index, grounding);
}

// What the prompt reads of the evidence's section at `place`: the section, and its units
// in the order a condensed section takes them (answer.py's prompt_hit).
function promptHit(evidence, place, grounding) {
  const units = unitsOf(evidence, place);
  return {
    ...evidence.sections[place],
    units: units.map(({ unit }) => unit),
    quote_order: quoteOrder(units, grounding),
  };
}

export class AssistantChat {
  constructor(site) {
    this.site = site;
    this.settings = site.assistant.settings;
    this.history = []; // {role: "user" | "assistant", content}, oldest first
    this.generator = null; // {chat, tokenizer, window}
    this.stopRequested = false;
  }

  // Bytes the first load downloads (both models).
  get downloadBytes() {
    return ROLES.reduce((sum, role) => sum + this.site.assistant.models[role].download_bytes, 0);
  }

  async cached() {
    const found = await Promise.all(ROLES.map((role) => this.site.modelCached(role)));
    return found.every(Boolean);
  }

  // Loads both models (shared with the search box through the site); onProgress hears the
  // bytes of both summed.
  async load(onProgress = () => {}) {
    const progress = Object.fromEntries(ROLES.map((role) => [role, 0]));
    const total = this.downloadBytes;
    const loads = ROLES.map((role) =>
      this.site.loadModel(role, ({ loaded }) => {
        progress[role] = loaded;
        onProgress({ loaded: progress.embedder + progress.generator, total });
      }),
    );
    const manifestUrl = this.site.url(this.site.assistant.models.generator.manifest);
    const [manifest, , ready, index] = await Promise.all([
      fetch(manifestUrl).then((response) => {
        if (!response.ok) throw new Error(`${manifestUrl}: HTTP ${response.status}`);
        return response.json();
      }),
      ...loads,
      // The whole index comes with the models, so the assistant answers offline too.
      this.site.searchIndex().then(async (index) => {
        await index.keepAll();
        return index;
      }),
    ]);
    this.index = index;
    this.grounding = groundingOf(this.site, index);
    this.generator = {
      chat: manifest.chat,
      tokenizer: new PromptTokenizer(manifest.tokenizer),
      window: ready.contextLength ?? manifest.config.context_length,
    };
  }

  // The evidence for `question` (read with the turn before it): {evidence, covered, passage}.
  async retrieve(question) {
    this.stopRequested = false; // a new turn
    const query = retrievalQuery(this.history, question);
    const runtime = await this.site.runtime();
    const [vector] = await runtime.embed([query]);
    const hits = await this.index.hybrid(query, vector, this.grounding.candidate_chunks);
    const candidates = await candidateSections(hits, this.index, this.grounding);
    const unitVectors = await runtime.embed(unitTexts(candidates));
    const termWeights = await this.index.termWeights(query);
    const evidence = weigh(candidates, vector, unitVectors, termWeights, this.grounding);
    return found(evidence, this.index, this.grounding);
  }

  // Streams the answer to `question` from what retrieve() found: onSources(the sections
  // behind [1], [2]...) before the first token, onClaims(claims) as each unit of the answer
  // completes and is judged (attribution.js). Resolves with {claims, text, reason}:
  // `text` is what the reader is shown (the supported claims, cited); reason "not-covered"
  // when nothing relevant was found (nothing is generated then).
  async answer(question, { evidence, covered }, { onSources = () => {}, onClaims = () => {} } = {}) {
    if (!covered) {
      this.remember(question, NOT_COVERED);
      return { claims: [], text: NOT_COVERED, reason: "not-covered" };
    }
    const { chat, tokenizer, window } = this.generator;
    const places = promptPlaces(evidence, this.settings.top_k, this.grounding);
    const prompt = buildPrompt({
      settings: this.settings,
      chat,
      tokenizer,
      window,
      hits: places.map((place) => promptHit(evidence, place, this.grounding)),
      history: this.history,
      question,
    });
    const sources = prompt.sources;
    const openings = answerOpenings(evidence, places.slice(0, sources.length), this.grounding);
    onSources(sources);
    const attributor = new Attributor(sources.map((source) => source.text), question, this.grounding);
    if (this.stopRequested) {
      this.remember(question, "");
      return { claims: [], text: "", reason: "stopped" }; // stopped before the first token
    }
    let raw = "";
    const runtime = await this.site.runtime();
    const settings = this.generation(prompt, question, openings);
    const result = await runtime.generate(prompt.text, settings, (_, piece) => {
      raw += piece;
      onClaims(attributor.claims(raw, false));
    });
    // The last unit counts only if the model ended the answer: a sentence cut off by the
    // token limit or by Stop is never shown.
    const ended = ["stop-id", "stop-string"].includes(result.reason);
    const claims = attributor.claims(result.text || raw, ended);
    const text = citedText(claims);
    this.remember(question, text);
    return { claims, text, reason: result.reason };
  }

  generation(prompt, question, openings) {
    const { temperature, top_p: topP, repetition_penalty: repetitionPenalty } = this.settings;
    const { chat, tokenizer } = this.generator;
    // What the prompt quotes: a condensed section's left-out units are not copied from.
    const texts = [...prompt.excerpts, question];
    return {
      maxTokens: prompt.answerTokens,
      temperature,
      topP,
      repetitionPenalty,
      stopIds: chat.stop_ids,
      stopStrings: STOP_STRINGS,
      seed: Math.floor(Math.random() * 2 ** 31),
      logitBias: { tokens: copyBiasTokens(tokenizer, texts, chat.stop_ids), value: this.settings.copy_bias },
      // The sources only: copying the question's phrases makes an answer restate it.
      copySpans: {
        source: copySpanSource(tokenizer, prompt.excerpts, openings),
        value: this.settings.copy_span_bias,
      },
    };
  }

  remember(question, answer) {
    this.history.push({ role: "user", content: question }, { role: "assistant", content: answer });
  }

  stop() {
    this.stopRequested = true;
    this.site.runtime().then((runtime) => runtime.stop());
  }
}
