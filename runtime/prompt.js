// The assistant's prompt, assembled exactly as pagemind.assistant.prompt does in Python
// (its docstring explains the budgets): system prompt, few-shot examples, the retrieved
// sections numbered [1], [2]... best first and quoted best last, next to the question, the
// conversation so far and the question, rendered with the model's chat pieces (the
// manifest's `chat`).
//
//   const tokenizer = new PromptTokenizer(manifest.tokenizer);
//   const {text, sources, excerpts, turnsKept, answerTokens} = buildPrompt({settings, chat: manifest.chat, tokenizer,
//                                                   window, hits, history, question});

import { joinUnits } from "./sentences.js";
import { BpeTokenizer } from "./tokenizer_bpe.js";
import { SpmTokenizer } from "./tokenizer_spm.js";

export const NOT_COVERED =
  "The docs do not cover this. Try other words, or look through the search results.";
// Asked to cite "[1]", SmolLM2-135M writes citations instead of answers (see prompt.py).
export const ANSWER_RULE = "Answer this question using the documentation above.";
// The prompt's own labels: a model that writes one has finished (see prompt.py).
export const STOP_STRINGS = ["\nQuestion:", "\nDocumentation:"];
const MIN_SECTION_TOKENS = 24;
// The best section's share of what is left when the sections do not all fit (prompt.py).
const FIRST_SECTION_WEIGHT = 2;
const FIT_ROUNDS = 8;

// The generator's tokenizer, by the manifest's tokenizer type.
const GENERATOR_TOKENIZERS = { "byte-level-bpe": BpeTokenizer, spm: SpmTokenizer };

// Counting, cutting and cleaning text with the generator's tokenizer (the manifest's spec).
export class PromptTokenizer {
  constructor(spec) {
    this.tokenizer = new GENERATOR_TOKENIZERS[spec.type](spec);
    this.specials = spec.added_tokens.filter((token) => token.special).map((t) => t.content);
    this.bosId = spec.add_bos ? spec.bos_id : null; // read before the text, when wanted
  }

  // The ids of `text` alone, without BOS.
  ids(text) {
    return this.tokenizer.encode(text, { addBos: false });
  }

  count(text) {
    return this.ids(text).length;
  }

  // The first `tokens` tokens of `text`, without a character cut in half.
  truncate(text, tokens) {
    const ids = this.ids(text).slice(0, tokens);
    return this.tokenizer.decode(ids).replace(/\uFFFD+$/u, "");
  }

  // `text` without the model's special tokens: a document or a reader's question must not
  // be able to open a turn of its own.
  plain(text) {
    while (this.specials.some((special) => text.includes(special))) {
      for (const special of this.specials) text = text.replaceAll(special, "");
    }
    return text;
  }
}

// A follow-up is searched together with the question before it ("and on Windows?").
export function retrievalQuery(history, question) {
  const earlier = history.filter((turn) => turn.role === "user").map((turn) => turn.content);
  return earlier.length ? `${earlier.at(-1)} ${question}` : question;
}

export function buildPrompt({ settings, chat, tokenizer, window, hits, history, question }) {
  question = tokenizer.plain(question);
  history = history.map((turn) => ({ ...turn, content: tokenizer.plain(turn.content) }));
  const available = window - settings.max_new_tokens;
  let target = available;
  let prompt;
  let used;
  for (let round = 0; round < FIT_ROUNDS; round++) {
    prompt = fit(settings, chat, tokenizer, target, hits, history, question);
    used = tokenizer.count(prompt.text) + (tokenizer.bosId != null ? 1 : 0);
    if (used <= available) break;
    target -= used - available;
  }
  return { ...prompt, answerTokens: Math.min(settings.max_new_tokens, window - used) };
}

function fit(settings, chat, tokenizer, available, hits, history, question) {
  const cost = (role, content) => tokenizer.count(message(chat, role, content));
  const system = settings.system_prompt;
  let fixed = cost("system", system) + tokenizer.count(chat.generation_prompt);
  fixed += cost("user", withExcerpts("", question));
  if (fixed > available) {
    // a question longer than the window: keep its start
    const keep = Math.max(1, tokenizer.count(question) - (fixed - available));
    question = tokenizer.truncate(question, keep);
    fixed = available;
  }
  let examples = settings.examples.flatMap(exampleTurns);
  let examplesCost = examples.reduce((sum, turn) => sum + cost(turn.role, turn.content), 0);
  if (fixed + examplesCost > available) [examples, examplesCost] = [[], 0];
  let room = available - fixed - examplesCost;
  const excerpts = fitSections(tokenizer, hits, Math.min(settings.context_tokens, room));
  const sections = excerpts
    .map((text, place) => sectionBlock(place, title(tokenizer, hits[place]), text))
    .reverse() // the best last, next to the question (see prompt.py)
    .join("");
  room -= tokenizer.count(sections);
  const kept = fitHistory(history, room, cost);
  const messages = [
    { role: "system", content: system },
    ...examples,
    ...kept,
    { role: "user", content: questionMessage(sections, question) },
  ];
  const sources = hits.slice(0, excerpts.length);
  return { text: assemble(chat, messages), sources, excerpts, turnsKept: kept.length / 2 };
}

// What the prompt quotes of the most sections, best first, whose shares of `budget` each
// hold them whole or condensed to at least MIN_SECTION_TOKENS (prompt.py's _fit_sections).
function fitSections(tokenizer, hits, budget) {
  const titles = hits.map((hit) => title(tokenizer, hit));
  const texts = hits.map((hit) => stripBlank(tokenizer.plain(hit.text)));
  const costs = texts.map((text, place) => tokenizer.count(sectionBlock(place, titles[place], text)));
  for (let kept = hits.length; kept > 0; kept--) {
    const excerpts = quoted(tokenizer, hits, titles, texts, costs.slice(0, kept), budget);
    if (excerpts) return excerpts;
  }
  return [];
}

// What the prompt quotes of the sections `costs` counts, within their shares, or null when
// one of them would be condensed to less than MIN_SECTION_TOKENS.
function quoted(tokenizer, hits, titles, texts, costs, budget) {
  const excerpts = [];
  const allotted = shares(costs, budget);
  for (let place = 0; place < costs.length; place++) {
    let text = texts[place];
    if (costs[place] > allotted[place]) {
      const room = allotted[place] - tokenizer.count(sectionBlock(place, titles[place], ""));
      if (room < MIN_SECTION_TOKENS) return null;
      text = condensed(tokenizer, hits[place], room);
    }
    excerpts.push(text);
  }
  return excerpts;
}

function title(tokenizer, hit) {
  return tokenizer.plain(hit.breadcrumb || hit.heading);
}

function sectionBlock(place, title, text) {
  return `[${place + 1}] ${title}\n${text}\n\n`;
}

// Each section's tokens (see prompt.py's _shares): what it needs when all fit; otherwise the
// sections needing less than their share take it, the rest split what is left, the best
// section counting FIRST_SECTION_WEIGHT times.
function shares(costs, budget) {
  const weights = costs.map((_, i) => (i === 0 ? FIRST_SECTION_WEIGHT : 1));
  const allotted = [...costs];
  let left = costs.map((_, i) => i);
  while (left.length) {
    const total = left.reduce((sum, i) => sum + weights[i], 0);
    const fair = (i) => (budget * weights[i]) / total;
    const fitting = left.filter((i) => costs[i] <= fair(i));
    if (!fitting.length) {
      for (const i of left) allotted[i] = Math.trunc(fair(i));
      break;
    }
    budget -= fitting.reduce((sum, i) => sum + costs[i], 0);
    left = left.filter((i) => !fitting.includes(i));
  }
  return allotted;
}

// The section's units that fit in `room` tokens, taken in its quote order (passage.js's
// quoteOrder) and read in the docs' order; when not even the best fits, its start.
function condensed(tokenizer, hit, room) {
  const { units, quote_order: order } = hit;
  const joined = (places) =>
    tokenizer.plain(joinUnits([...places].sort((a, b) => a - b).map((i) => units[i])));
  let chosen = [];
  for (const group of order) {
    const trial = [...new Set([...chosen, ...group])];
    if (tokenizer.count(joined(trial)) <= room) chosen = trial;
  }
  if (chosen.length) return joined(chosen);
  const best = units.length ? joined(order[0]) : "";
  return best ? `${tokenizer.truncate(best, room - 2)} …` : "";
}

// The latest whole question/answer pairs that fit in `room` tokens.
function fitHistory(history, room, cost) {
  const pairs = [];
  for (let i = history.length % 2; i < history.length; i += 2) pairs.push(history.slice(i, i + 2));
  let kept = [];
  for (const pair of pairs.reverse()) {
    const spent = pair.reduce((sum, turn) => sum + cost(turn.role, turn.content), 0);
    if (spent > room) break;
    kept = [...pair, ...kept];
    room -= spent;
  }
  return kept;
}

// Python's str.strip(" \t\n\r"): trim() would also take other Unicode spaces.
function stripBlank(text) {
  return text.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
}

function exampleTurns(example) {
  return [
    { role: "user", content: example.question },
    { role: "assistant", content: example.answer },
  ];
}

function questionMessage(sections, question) {
  return sections ? withExcerpts(sections, question) : question;
}

function withExcerpts(sections, question) {
  return `Documentation:\n\n${sections}${ANSWER_RULE}\nQuestion: ${question}`;
}

// The prompt text of `messages`, as models/chat_template.py's assemble: where the system
// message opens the first user turn, the message after it goes without its prefix.
export function assemble(chat, messages) {
  const text = messages.map((m, index) => {
    const folded = chat.system_into_first_user && messages[index - 1]?.role === "system";
    return (folded ? "" : chat[`${m.role}_prefix`]) + m.content + chat[`${m.role}_suffix`];
  });
  return text.join("") + chat.generation_prompt;
}

function message(chat, role, content) {
  return chat[`${role}_prefix`] + content + chat[`${role}_suffix`];
}
