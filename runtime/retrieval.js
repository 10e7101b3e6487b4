// The site's search index in the browser: keyword (BM25) and hybrid (cosine plus weighted
// keyword strength) ranking, and chunks grouped into sections, the same as
// pagemind.search_index.ranking in Python (parity-tested). The ranking constants and stop
// words come from the index description in site.json, so both sides read the same values.
//
// The index is many small files (pagemind/search_index/index_files.py): load() fetches the
// manifest; a query fetches the term shards of its words, then the fragments holding the
// texts of the chunks it returns. A ranking with a query vector reads every chunk's sign
// bits (one file, fetched once), keeps the best first_pass_candidates by their estimate and
// fetches the int8 vectors of those candidates' groups only (see
// pagemind.search_index.ranking). Every file is fetched once per page.
//
//   const index = await SearchIndex.load(site);          // site from loadSite()
//   await index.keyword("deploy to github", 5)           // before any model loads
//   const [vector] = await (await site.runtime()).embed([query]);   // once the embedder is in
//   const hits = await index.hybrid(query, vector, 5);   // vector null: keyword ranking
//   index.isRelevant(hits)                               // false: the docs do not cover it
//   sections(hits)                                       // one hit per section
//   await index.topSections(await index.rank(query, vector), ids, 8)  // fewest fragments
//   hit: {id, url, page, heading, breadcrumb, text, score, cosine, coverage, strength, chunks}
//   hit.url is site-relative: new URL(hit.url, site.root) opens it.

const WORD = /[\p{L}\p{N}]+/gu; // Python's [^\W_]+: Unicode letters and digits
export const BREADCRUMB = " › "; // between a hit's breadcrumb's parts (chunks.py's)

export const NOT_DOWNLOADED =
  "this part of the search index was not downloaded before going offline; search again online";

// Where a camel-case name's parts meet: "timeout|Exception", "HTTP|Client", "get|URL".
const CASE_CHANGE = /(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/;

// The query's terms: lower case, a camel-case name whole and by its parts, stop words
// dropped, light plural stemming (see pagemind.search_index.keywords).
export function keywordTerms(text, stopwords) {
  const words = (text.match(WORD) ?? []).flatMap(wordTerms);
  return words.filter((word) => !stopwords.has(word)).map(stem);
}

function wordTerms(word) {
  const parts = word.split(CASE_CHANGE);
  const pieces = parts.length > 1 ? [word, ...parts] : [word];
  return pieces.flatMap((piece) => piece.toLowerCase().match(WORD) ?? []);
}

export function stem(word) {
  if (word.length <= 3) return word;
  if (word.endsWith("ies") && !word.endsWith("eies") && !word.endsWith("aies")) {
    return word.slice(0, -3) + "y";
  }
  if (word.endsWith("es") && !["aes", "ees", "oes"].some((end) => word.endsWith(end))) {
    return word.slice(0, -1);
  }
  if (word.endsWith("s") && !["us", "ss", "is"].some((end) => word.endsWith(end))) {
    return word.slice(0, -1);
  }
  return word;
}

// A file of the index from the network (through the service worker, which keeps it); a
// request that cannot leave an offline browser says so in the reader's words.
async function fetchFile(url, kind) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(globalThis.navigator?.onLine === false ? NOT_DOWNLOADED : `${url}: ${error}`);
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return kind === "json" ? response.json() : response.arrayBuffer();
}

// Highest score first; ties: the lower chunk number (the site's reading order) first.
function ranked(scores) {
  return [...scores.keys()].sort((a, b) => scores.get(b) - scores.get(a) || a - b);
}

// The last place in `sorted` whose value is not after `value` (0 when all are).
function placeOf(sorted, value) {
  let [low, high] = [0, sorted.length - 1];
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (sorted[middle] <= value) low = middle;
    else high = middle - 1;
  }
  return low;
}

// A shard's postings [chunk gap, frequency, chunk length, ...] as absolute chunk numbers.
function decodePostings(encoded) {
  const postings = [];
  let id = 0;
  for (let i = 0; i < encoded.length; i += 3) {
    id += encoded[i];
    postings.push({ id, frequency: encoded[i + 1], length: encoded[i + 2] });
  }
  return postings;
}

export class SearchIndex {
  // read(path relative to _pagemind/, "json" | "bytes") -> a promise of the file's content.
  constructor(description, manifest, read) {
    this.description = description;
    this.ranking = description.ranking;
    this.stopwords = new Set(description.stopwords);
    this.count = description.count;
    this.average = manifest.total_length / (this.count || 1);
    this.manifest = manifest;
    this.read = read;
    this.files = new Map(); // path -> promise of its parsed content, once per page
  }

  // Fetches the manifest site.index names; rejects when the site has no index.
  static async load(site) {
    const description = site.index;
    if (!description) throw new Error("this site has no search index");
    const read = (path, kind) => fetchFile(site.url(path), kind);
    return SearchIndex.fromFiles(description, read);
  }

  static async fromFiles(description, read) {
    return new SearchIndex(description, await read(description.manifest, "json"), read);
  }

  // A file of the index, parsed by `parse`; a failed fetch is forgotten, so a later call
  // tries again (back online, say).
  file(path, kind, parse = (content) => content) {
    if (!this.files.has(path)) {
      const loading = this.read(path, kind).then(parse);
      loading.catch(() => this.files.delete(path));
      this.files.set(path, loading);
    }
    return this.files.get(path);
  }

  get hasVectors() {
    return Boolean(this.description.vectors);
  }

  // Every chunk's sign bits (Uint8Array: rows of little-endian 32-bit words, so byte p of a
  // row holds components 8p to 8p + 7, lowest bit first): the first pass of a ranking with
  // a query vector reads them all.
  signs() {
    return this.file(this.description.vectors.signs, "bytes", (buffer) => new Uint8Array(buffer));
  }

  // Unit rows (Float64Array each) of the chunks of vector group `number`.
  vectorGroup(number) {
    const { first } = this.manifest.vectors;
    const size = (first[number + 1] ?? this.count) - first[number];
    const path = this.shardPath("vectors", number, "bin");
    return this.file(path, "bytes", (buffer) =>
      dequantize(buffer, size, this.description.vectors.dimensions),
    );
  }

  // Chunk id -> unit row, for the chunks `ids`, fetching the groups they fall in.
  async rows(ids) {
    const { first } = this.manifest.vectors;
    const groupOf = new Map(ids.map((id) => [id, placeOf(first, id)]));
    const groups = [...new Set(groupOf.values())];
    const loaded = new Map(
      await Promise.all(groups.map(async (group) => [group, await this.vectorGroup(group)])),
    );
    const row = (id) => loaded.get(groupOf.get(id))[id - first[groupOf.get(id)]];
    return new Map(ids.map((id) => [id, row(id)]));
  }

  // Every file of the index, so that any query works offline (the service worker keeps
  // what passes through it).
  async keepAll() {
    const { terms, fragments, vectors } = this.manifest;
    const groups = this.hasVectors ? vectors.files.map((_, n) => this.vectorGroup(n)) : [];
    await Promise.all([
      ...terms.files.map((_, number) => this.shard(number)),
      ...fragments.files.map((_, number) => this.fragment(number)),
      ...groups,
      this.hasVectors ? this.signs() : null,
    ]);
  }

  shardPath(folder, number, extension = "json") {
    return `index/${folder}/${number}.${this.manifest[folder].files[number]}.${extension}`;
  }

  // Term -> postings of shard `number`.
  shard(number) {
    const parse = ({ terms }) =>
      new Map(Object.entries(terms).map(([term, encoded]) => [term, decodePostings(encoded)]));
    return this.file(this.shardPath("terms", number), "json", parse);
  }

  async postings(term) {
    if (!this.manifest.terms.first.length) return []; // a site without a word
    const shard = await this.shard(placeOf(this.manifest.terms.first, term));
    return shard.get(term) ?? [];
  }

  // The index term beginning with `word` that the most chunks hold (the first in sorted
  // order among equals), or null when none does or `word`'s own stem is a term.
  async completion(word) {
    const { first } = this.manifest.terms;
    if (!first.length || (await this.postings(stem(word))).length) return null;
    let best = null;
    let bestCount = 0;
    let number = placeOf(first, word);
    do {
      const shard = await this.shard(number);
      // Sorted again: an object's integer-like keys ("404") come first in JavaScript.
      for (const term of [...shard.keys()].sort()) {
        const count = shard.get(term).length;
        if (term.startsWith(word) && count > bestCount) [best, bestCount] = [term, count];
      }
      number += 1;
    } while (number < first.length && first[number].startsWith(word));
    return best;
  }

  fragment(number) {
    return this.file(this.shardPath("fragments", number), "json");
  }

  // The chunk `id` ({url, page, anchor, heading, breadcrumb, text}) from its fragment.
  async chunk(id) {
    const number = placeOf(this.manifest.fragments.first, id);
    const fragment = await this.fragment(number);
    return fragment.chunks[id - this.manifest.fragments.first[number]];
  }

  // The query's distinct terms, in order of appearance: [{term, idf, postings}].
  async queryTerms(query) {
    const terms = [...new Set(keywordTerms(query, this.stopwords))];
    const postings = await Promise.all(terms.map((term) => this.postings(term)));
    return terms.map((term, i) => ({
      term,
      idf: this.idf(postings[i].length),
      postings: postings[i],
    }));
  }

  // The query's distinct terms, in order of appearance, and their idf.
  async termWeights(query) {
    return new Map((await this.queryTerms(query)).map(({ term, idf }) => [term, idf]));
  }

  // Lucene's BM25 idf of a term that `frequency` chunks hold.
  idf(frequency) {
    return Math.log(1 + (this.count - frequency + 0.5) / (frequency + 0.5));
  }

  // The ranking of a query: {ids best first, figures(id) -> {score, cosine, coverage,
  // strength}}; keyword only (chunks holding a query term) without a query vector, else
  // fused, of the first pass's candidates (at least k of them) only.
  async rank(query, queryVector, k = 0) {
    const keywords = await this.bm25(query);
    if (!queryVector || !this.hasVectors) {
      const { scores } = keywords;
      return rankingOf(ranked(scores), (id) => scores.get(id), keywords, null);
    }
    // Keyword strength weighed by idf coverage (see pagemind.search_index.ranking).
    const weight = this.ranking.fusion_weight;
    const lift = (id) => keywords.strength(id) * (keywords.coverage.get(id) ?? 0);
    const unit = unitOf(queryVector);
    const first = signEstimates(await this.signs(), unit);
    for (const id of keywords.scores.keys()) first[id] += weight * lift(id);
    const candidates = best(first, Math.max(this.ranking.first_pass_candidates, k));
    const rows = await this.rows(candidates);
    const cosines = new Map(candidates.map((id) => [id, dot(rows.get(id), unit)]));
    const fused = new Map(candidates.map((id) => [id, cosines.get(id) + weight * lift(id)]));
    return rankingOf(ranked(fused), (id) => fused.get(id), keywords, cosines);
  }

  async keyword(query, k) {
    const ranking = await this.rank(query, null);
    return this.hits(ranking, ranking.ids.slice(0, k));
  }

  // Fused ranking; the keyword ranking alone without a query vector.
  async hybrid(query, queryVector, k) {
    const ranking = await this.rank(query, queryVector, k);
    return this.hits(ranking, ranking.ids.slice(0, k));
  }

  // The chunks `ids` of `ranking` as hits, their texts fetched.
  async hits(ranking, ids) {
    const chunks = await Promise.all(ids.map((id) => this.chunk(id)));
    return ids.map((id, i) => ({ id, ...chunks[i], ...ranking.figures(id), chunks: [id] }));
  }

  // One hit per section of the chunks `ids` (best first), at most `count`, fetching the
  // texts of as few chunks as that takes: as many as sections are missing at a time.
  async topSections(ranking, ids, count) {
    let hits = [];
    let next = 0;
    while (next < ids.length && sections(hits).length < count) {
      const batch = ids.slice(next, next + count - sections(hits).length);
      next += batch.length;
      hits = hits.concat(await this.hits(ranking, batch));
    }
    return sections(hits).slice(0, count);
  }

  // False when the docs do not cover the query (see pagemind.search_index.ranking).
  isRelevant(hits) {
    if (hits.length === 0) return false;
    if (hits[0].cosine !== null) {
      return Math.max(...hits.map((hit) => hit.cosine)) >= this.ranking.min_cosine;
    }
    return Math.max(...hits.map((hit) => hit.coverage)) >= this.ranking.min_coverage;
  }

  // BM25 score and idf coverage of every chunk holding a query term, and its strength: its
  // BM25 over the most any chunk could score, (k1 + 1) times the terms' summed idf.
  async bm25(query) {
    const { k1, b } = this.ranking;
    const scores = new Map();
    const matched = new Map();
    let total = 0;
    for (const { idf, postings } of await this.queryTerms(query)) {
      total += idf;
      for (const { id, frequency, length } of postings) {
        const norm = k1 * (1 - b + (b * length) / this.average);
        scores.set(id, (scores.get(id) ?? 0) + (idf * frequency * (k1 + 1)) / (frequency + norm));
        matched.set(id, (matched.get(id) ?? 0) + idf);
      }
    }
    const coverage = new Map([...matched].map(([id, idf]) => [id, idf / total]));
    const ceiling = (k1 + 1) * total;
    const strength = (id) => (ceiling ? (scores.get(id) ?? 0) / ceiling : 0);
    return { scores, coverage, strength };
  }
}

function rankingOf(ids, score, keywords, cosines) {
  const figures = (id) => ({
    score: score(id),
    cosine: cosines ? cosines.get(id) : null,
    coverage: keywords.coverage.get(id) ?? 0,
    strength: keywords.strength(id),
  });
  return { ids, figures };
}

function unitOf(vector) {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  return Float64Array.from(vector, (value) => value / norm);
}

function dot(row, unit) {
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += row[i] * unit[i];
  return sum;
}

// Each chunk's cosine estimated from its sign bits: the unit query's components summed
// with the chunk's signs, over the square root of the dimensions. A table holds that sum
// for every value of each byte of a row, so a chunk costs one lookup per 8 components.
function signEstimates(signs, unit) {
  const dimensions = unit.length;
  const rowBytes = 4 * Math.ceil(dimensions / 32);
  const table = new Float64Array(256 * rowBytes);
  for (let place = 0; place < rowBytes; place++) {
    for (let value = 0; value < 256; value++) {
      let sum = 0;
      for (let bit = 0; bit < 8 && 8 * place + bit < dimensions; bit++) {
        const component = unit[8 * place + bit];
        sum += (value >> bit) & 1 ? component : -component;
      }
      table[256 * place + value] = sum;
    }
  }
  const scale = Math.sqrt(dimensions);
  const estimates = new Float64Array(signs.length / rowBytes);
  for (let id = 0; id < estimates.length; id++) {
    let sum = 0;
    for (let place = 0; place < rowBytes; place++) {
      sum += table[256 * place + signs[id * rowBytes + place]];
    }
    estimates[id] = sum / scale;
  }
  return estimates;
}

// The `count` ids of the highest `scores`, best first; ties: the lower id first.
function best(scores, count) {
  const ids = [];
  for (let id = 0; id < scores.length; id++) {
    if (ids.length === count && !(scores[id] > scores[ids[count - 1]])) continue;
    let at = ids.length;
    while (at > 0 && scores[id] > scores[ids[at - 1]]) at -= 1;
    ids.splice(at, 0, id);
    if (ids.length > count) ids.pop();
  }
  return ids;
}

// One hit per section (url), at the place of its best chunk, holding the texts of all its
// chunks among `hits` in reading order and the best of their figures.
export function sections(hits) {
  const grouped = new Map();
  for (const hit of hits) {
    if (!grouped.has(hit.url)) grouped.set(hit.url, []);
    grouped.get(hit.url).push(hit);
  }
  return [...grouped.values()].map(section);
}

function section(group) {
  const [best] = group;
  if (group.length === 1) return best;
  const ordered = [...group].sort((a, b) => a.id - b.id);
  const cosines = group.map((hit) => hit.cosine).filter((cosine) => cosine !== null);
  return {
    ...best,
    text: ordered.map((hit) => hit.text).join("\n\n"),
    cosine: cosines.length ? Math.max(...cosines) : null,
    coverage: Math.max(...group.map((hit) => hit.coverage)),
    strength: Math.max(...group.map((hit) => hit.strength)),
    chunks: ordered.map((hit) => hit.id),
  };
}

// A vector group (vectors/<n>.<hash>.bin): a float32 scale per chunk, then int8 rows; unit
// rows out.
function dequantize(buffer, count, dimensions) {
  const scales = new Float32Array(buffer, 0, count);
  const values = new Int8Array(buffer, 4 * count, count * dimensions);
  const rows = [];
  for (let row = 0; row < count; row++) {
    const vector = new Float64Array(dimensions);
    let norm = 0;
    for (let i = 0; i < dimensions; i++) {
      vector[i] = values[row * dimensions + i] * scales[row];
      norm += vector[i] * vector[i];
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < dimensions; i++) vector[i] /= norm;
    rows.push(vector);
  }
  return rows;
}
