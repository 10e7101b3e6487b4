// The site's search index in the browser: keyword (BM25), vector (cosine) and hybrid
// (cosine plus weighted keyword strength) ranking, and chunks grouped into sections, the
// same as pagemind.search_index.ranking in Python
// (parity-tested). The ranking constants and stop words come from the index description
// in site.json, so both sides read the same values.
//
//   const index = await SearchIndex.load(site);          // site from loadSite()
//   index.keyword("deploy to github", 5)                 // before any model loads
//   const [vector] = await (await site.runtime()).embed([query]);   // once the embedder is in
//   const hits = index.hybrid(query, vector, 5);          // vector null: keyword ranking
//   index.isRelevant(hits)                               // false: the docs do not cover it
//   sections(hits)                                       // one hit per section
//   hit: {id, url, page, heading, breadcrumb, text, score, cosine, coverage, strength, chunks}
//   hit.url is site-relative: new URL(hit.url, site.root) opens it.

const WORD = /[\p{L}\p{N}]+/gu; // Python's [^\W_]+: Unicode letters and digits

// The query's terms: lower case, stop words dropped, light plural stemming
// (see pagemind.search_index.keywords).
export function keywordTerms(text, stopwords) {
  const words = text.toLowerCase().match(WORD) ?? [];
  return words.filter((word) => !stopwords.has(word)).map(stem);
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

async function fetchOk(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

// Highest score first; ties: the lower chunk number (the site's reading order) first.
function ranked(scores) {
  return [...scores.keys()].sort((a, b) => scores.get(b) - scores.get(a) || a - b);
}

export class SearchIndex {
  constructor(description, chunks, keywords, vectors) {
    this.ranking = description.ranking;
    this.stopwords = new Set(description.stopwords);
    this.chunks = chunks;
    this.lengths = keywords.lengths;
    this.terms = new Map(Object.entries(keywords.terms)); // term -> [chunk, tf, ...]
    const total = this.lengths.reduce((sum, length) => sum + length, 0);
    this.average = total / (this.lengths.length || 1);
    this.vectors = vectors; // array of Float64Array unit rows, or null
  }

  // Fetches the files site.index names; rejects when the site has no index.
  static async load(site) {
    const description = site.index;
    if (!description) throw new Error("this site has no search index");
    const [chunks, keywords, vectors] = await Promise.all([
      fetchOk(site.url(description.chunks)).then((response) => response.json()),
      fetchOk(site.url(description.keywords)).then((response) => response.json()),
      description.vectors
        ? fetchOk(site.url(description.vectors.file)).then((response) => response.arrayBuffer())
        : null,
    ]);
    return SearchIndex.fromFiles(description, chunks, keywords, vectors);
  }

  // The index from its files' contents: chunks and keywords parsed, vectors an ArrayBuffer.
  static fromFiles(description, chunks, keywords, vectors) {
    const count = chunks.chunks.length;
    const rows = vectors && dequantize(vectors, count, description.vectors.dimensions);
    return new SearchIndex(description, chunks.chunks, keywords, rows);
  }

  get hasVectors() {
    return this.vectors !== null;
  }

  keyword(query, k) {
    const keywords = this.bm25(query);
    const { scores } = keywords;
    return ranked(scores).slice(0, k).map((id) => this.hit(id, scores.get(id), keywords, null));
  }

  vector(query, queryVector, k) {
    const keywords = this.bm25(query);
    const cosines = this.cosines(queryVector);
    const scores = new Map(cosines.map((cosine, id) => [id, cosine]));
    return ranked(scores).slice(0, k).map((id) => this.hit(id, cosines[id], keywords, cosines));
  }

  // Fused ranking; the keyword ranking alone without a query vector.
  hybrid(query, queryVector, k) {
    if (!queryVector || !this.vectors) return this.keyword(query, k);
    const keywords = this.bm25(query);
    const cosines = this.cosines(queryVector);
    const weight = this.ranking.keyword_weight;
    const fused = new Map(cosines.map((cosine, id) => [id, cosine + weight * keywords.strength(id)]));
    return ranked(fused).slice(0, k).map((id) => this.hit(id, fused.get(id), keywords, cosines));
  }

  // False when the docs do not cover the query (see pagemind.search_index.ranking).
  isRelevant(hits) {
    if (hits.length === 0) return false;
    if (hits[0].cosine !== null) {
      return Math.max(...hits.map((hit) => hit.cosine)) >= this.ranking.min_cosine;
    }
    return Math.max(...hits.map((hit) => hit.coverage)) >= this.ranking.min_coverage;
  }

  idf(term) {
    const count = this.lengths.length;
    const frequency = (this.terms.get(term)?.length ?? 0) / 2;
    return Math.log(1 + (count - frequency + 0.5) / (frequency + 0.5));
  }

  // The query's distinct terms, in order of appearance, and their idf.
  termWeights(query) {
    const terms = new Set(keywordTerms(query, this.stopwords));
    return new Map([...terms].map((term) => [term, this.idf(term)]));
  }

  // BM25 score and idf coverage of every chunk holding a query term, and its strength: its
  // BM25 over the most any chunk could score, (k1 + 1) times the terms' summed idf.
  bm25(query) {
    const { k1, b } = this.ranking;
    const scores = new Map();
    const matched = new Map();
    let total = 0;
    for (const [term, idf] of this.termWeights(query)) {
      total += idf;
      const postings = this.terms.get(term) ?? [];
      for (let i = 0; i < postings.length; i += 2) {
        const [id, frequency] = [postings[i], postings[i + 1]];
        const norm = k1 * (1 - b + (b * this.lengths[id]) / this.average);
        scores.set(id, (scores.get(id) ?? 0) + (idf * frequency * (k1 + 1)) / (frequency + norm));
        matched.set(id, (matched.get(id) ?? 0) + idf);
      }
    }
    const coverage = new Map([...matched].map(([id, idf]) => [id, idf / total]));
    const ceiling = (k1 + 1) * total;
    const strength = (id) => (ceiling ? (scores.get(id) ?? 0) / ceiling : 0);
    return { scores, coverage, strength };
  }

  cosines(queryVector) {
    let norm = 0;
    for (const value of queryVector) norm += value * value;
    norm = Math.sqrt(norm);
    return this.vectors.map((row) => {
      let dot = 0;
      for (let i = 0; i < row.length; i++) dot += row[i] * queryVector[i];
      return dot / norm;
    });
  }

  hit(id, score, keywords, cosines) {
    const chunk = this.chunks[id];
    return {
      id,
      url: chunk.url,
      page: chunk.page,
      heading: chunk.heading,
      breadcrumb: chunk.breadcrumb,
      text: chunk.text,
      score,
      cosine: cosines ? cosines[id] : null,
      coverage: keywords.coverage.get(id) ?? 0,
      strength: keywords.strength(id),
      chunks: [id],
    };
  }
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

// vectors.<hash>.bin: a float32 scale per chunk, then int8 rows; unit rows out.
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
