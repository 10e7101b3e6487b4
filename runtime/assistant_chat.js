// The assistant's conversation, without any UI: load the models, retrieve the sections for a
// question (hybrid search), build the prompt (prompt.js), stream the answer from the
// runtime worker, and keep the turns for follow-ups.
//
//   const chat = new AssistantChat(site);
//   await chat.load(({loaded, total}) => ...);       // both models, bytes summed
//   const {hits, relevant} = await chat.retrieve(question);
//   const {text, reason} = await chat.answer(question, hits, relevant, {onSources, onText});
//   chat.stop();

import { buildPrompt, NOT_COVERED, PromptTokenizer, retrievalQuery } from "./prompt.js";

const ROLES = ["embedder", "generator"];

// Keyword-only results: what the panel shows without WebGPU.
export async function keywordHits(site, question) {
  const index = await site.searchIndex();
  return index.keyword(question, site.assistant.settings.top_k);
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
      this.site.searchIndex(),
    ]);
    this.index = index;
    this.generator = {
      chat: manifest.chat,
      tokenizer: new PromptTokenizer(manifest.tokenizer),
      window: ready.contextLength ?? manifest.config.context_length,
    };
  }

  // The best sections for `question` (read with the turn before it), and whether any of
  // them is relevant enough to answer from.
  async retrieve(question) {
    this.stopRequested = false; // a new turn
    const query = retrievalQuery(this.history, question);
    const runtime = await this.site.runtime();
    const [vector] = await runtime.embed([query]);
    const hits = this.index.hybrid(query, vector, this.settings.top_k);
    return { hits, relevant: hits.length > 0 && this.index.isRelevant(hits) };
  }

  // Streams the answer to `question` from `hits`: onSources(the hits behind [1], [2]...)
  // before the first token, onText(the text so far) after each. Resolves with {text, reason};
  // reason "not-covered" when nothing relevant was found (nothing is generated then).
  async answer(question, hits, relevant, { onSources = () => {}, onText = () => {} } = {}) {
    if (!relevant) {
      onSources([]);
      onText(NOT_COVERED);
      this.remember(question, NOT_COVERED);
      return { text: NOT_COVERED, reason: "not-covered" };
    }
    const { chat, tokenizer, window } = this.generator;
    const prompt = buildPrompt({
      settings: this.settings,
      chat,
      tokenizer,
      window,
      hits,
      history: this.history,
      question,
    });
    onSources(prompt.sources);
    if (this.stopRequested) {
      this.remember(question, "");
      return { text: "", reason: "stopped" }; // stopped before the first token
    }
    let text = "";
    const runtime = await this.site.runtime();
    const result = await runtime.generate(prompt.text, this.generation(prompt), (_, piece) => {
      text += piece;
      onText(text);
    });
    text = result.text.trim() || text.trim();
    this.remember(question, text);
    return { text, reason: result.reason };
  }

  generation(prompt) {
    const { temperature, top_p: topP, repetition_penalty: repetitionPenalty } = this.settings;
    return {
      maxTokens: prompt.answerTokens,
      temperature,
      topP,
      repetitionPenalty,
      stopIds: this.generator.chat.stop_ids,
      seed: Math.floor(Math.random() * 2 ** 31),
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
