// The answers this browser already got, so that a question asked again is answered at once,
// without searching or generating. Kept in localStorage per site, the newest KEPT, under the
// site's build version: a new build (new docs, index or model) starts an empty cache.
//
//   const answers = new AnswerCache(site);
//   answers.get(question, style)       // the kept answer, or null
//   answers.put(question, style, answer) // {covered, passage, nearest, text, sources, notes, held}
//   answers.forgetCiting(urls)         // a thumbs-down: drop answers built on those sections
//   answers.clear()

const KEY = "pagemind-assistant-answers";
const KEPT = 50;

// A question as it is looked up: case, runs of white space and closing punctuation do not
// make it another question.
export function questionKey(question) {
  return question.toLowerCase().replace(/\s+/g, " ").trim().replace(/[\s?!.,;:]+$/u, "");
}

function entryKey(question, style) {
  return style ? `${style}\u0000${questionKey(question)}` : questionKey(question);
}

export class AnswerCache {
  constructor(site) {
    this.key = `${KEY}:${new URL(site.root).pathname}`; // sites may share an origin
    this.version = site.version;
  }

  // style: the adapter the answer was written with ("" for the model alone): another style
  // writes another answer.
  get(question, style) {
    const key = entryKey(question, style);
    return this.read().find((stored) => stored.key === key)?.answer ?? null;
  }

  put(question, style, answer) {
    const key = entryKey(question, style);
    const others = this.read().filter((stored) => stored.key !== key);
    this.write([...others, { key, answer }].slice(-KEPT));
  }

  forgetCiting(urls) {
    const lowered = new Set(urls);
    const cites = ({ answer }) =>
      [...answer.sources, ...answer.nearest].some((source) => lowered.has(source.url));
    this.write(this.read().filter((stored) => !cites(stored)));
  }

  clear() {
    this.write([]);
  }

  // Oldest first; empty when the store is blocked, damaged or from another build.
  read() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.key) ?? "null");
      return stored?.version === this.version && Array.isArray(stored.answers) ? stored.answers : [];
    } catch {
      return [];
    }
  }

  write(answers) {
    try {
      localStorage.setItem(this.key, JSON.stringify({ version: this.version, answers }));
    } catch {
      // storage full or blocked: answers are simply not remembered
    }
  }
}
