"""The grounding steps decide the same under Node (runtime/*.js) as in Python
(pagemind.assistant, pagemind.search_index.ranking) from the same inputs: the example
site's chunks with seeded random vectors, through hybrid ranking, sections, units, the
evidence, the gate and the passage (with and without vectors); a subsection put before its
section; the claims, citations and held-back units of answers planted to be supported,
invented or restating, also while they stream; the answer's openings; and the copy-bias
tokens and copy-span sources (whole, with openings, and cut at MAX_COPY_SOURCE) with the
real SmolLM2 tokenizer."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from grounding_cases import nested_sections
from node_script import run_module
from pagemind.assistant import grounding_settings
from pagemind.assistant.attribution import REPEATS, Attributor
from pagemind.assistant.copy_bias import answer_openings, copy_bias_tokens, copy_span_source
from pagemind.assistant.evidence import candidate_sections, unit_texts, weigh
from pagemind.assistant.passage import best_passage
from pagemind.assistant.sentences import cut_units
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.config import load_config
from pagemind.models.generate import ANSWER_START, MAX_COPY_SOURCE, SPAN_SEPARATOR
from pagemind.models.gguf_source import read_gguf
from pagemind.models.registry import resolve_model
from pagemind.search_index.index_files import index_files, parse_index
from pagemind.search_index.keywords import keyword_stats
from pagemind.search_index.ranking import Ranker
from pagemind.search_index.site_index import SiteIndexer, parse_pages
from paths import REPO

RUNTIME = REPO / "runtime"
QUERIES = [
    "How do I deploy to GitHub Pages?",
    "preview my pages while I edit them",
    "which embedding model is used and how big is it",
    "Où est la sortie ? ✓",
    "sourdough bread",
    "pip install pagemind",  # best units: code blocks, each opening from its introduction
    "commit without pushing --no-push --force",  # definitions, each read with its term
]
DIMENSIONS = 32
PROMPT_TOP_K = 3
SCRIPT = """
import { readFileSync } from "node:fs";
const load = (name) => import(new URL(name, process.argv[1]).href);
const [retrieval, evidenceJs, passageJs, attributionJs, sentencesJs, copyBias, prompt] =
  await Promise.all(["retrieval.js", "evidence.js", "passage.js", "attribution.js",
    "sentences.js", "copy_bias.js", "prompt.js"].map(load));
const input = JSON.parse(readFileSync(0, "utf8"));
const files = new Map(Object.entries(input.files));
const read = async (path, kind) => {
  const bytes = Buffer.from(files.get(path), "base64");
  return kind === "json" ? JSON.parse(bytes.toString("utf8")) : Uint8Array.from(bytes).buffer;
};
const index = await retrieval.SearchIndex.fromFiles(input.description, read);
const grounding = { ...input.grounding, stopwords: index.stopwords,
  keyword_weight: index.ranking.keyword_weight, min_coverage: index.ranking.min_coverage };
const evidenceOf = async (query, queryVector, unitVectors) => {
  const hits = queryVector ? await index.hybrid(query, queryVector, grounding.candidate_chunks)
    : await index.keyword(query, grounding.candidate_chunks);
  const candidates = await evidenceJs.candidateSections(hits, index, grounding);
  const texts = evidenceJs.unitTexts(candidates);
  const evidence = evidenceJs.weigh(candidates, queryVector, unitVectors && unitVectors(texts),
    await index.termWeights(query), grounding);
  return { hits, candidates, texts, evidence };
};
const describe = ({ hits, candidates, texts, evidence }) => ({
  hits: hits.map((hit) => [hit.id, hit.score, hit.strength]),
  candidates: candidates.map((section) => [section.url, section.chunks, section.text]),
  texts,
  sections: evidence.sections.map((section) => [section.url, section.score]),
  units: evidence.units.map(({ section, unit, score }) => [section, unit.text, unit.kind,
    unit.block, score]),
  covers: evidenceJs.covers(evidence, index, grounding),
  promptPlaces: evidenceJs.promptPlaces(evidence, input.promptTopK, grounding),
  openings: copyBias.answerOpenings(evidence,
    evidenceJs.promptPlaces(evidence, input.promptTopK, grounding), grounding),
  passage: passageJs.bestPassage(evidence, grounding),
});
const results = [];
for (const { query, queryVector, unitVectors } of input.queries) {
  const byText = new Map(Object.entries(unitVectors));
  const vectorsOf = (texts) => texts.map((t) => byText.get(t));
  results.push({
    hybrid: describe(await evidenceOf(query, queryVector, vectorsOf)),
    keyword: describe(await evidenceOf(query, null, null)),
  });
}
const claims = input.answers.map(({ sources, question, answer, cuts }) => {
  const attributor = new attributionJs.Attributor(sources, question, grounding);
  const judged = (text, final) => attributor.claims(text, final).map(({ unit, source, reason }) =>
    [unit.text, source, reason]);
  return {
    final: judged(answer, true),
    cited: attributionJs.citedText(attributor.claims(answer)),
    streaming: cuts.map((cut) => judged(answer.slice(0, cut), false)),
  };
});
const nested = input.nested.map(({ candidates, query, vectors }) => evidenceJs
  .weigh(candidates, query, vectors, new Map(), grounding).sections
  .map((section) => [section.url, section.score]));
const units = input.texts.map((text) => sentencesJs.cutUnits(text).map((unit) =>
  [unit.text, unit.kind, unit.block]));
const tokenizer = new prompt.PromptTokenizer(input.spec);
const bias = copyBias.copyBiasTokens(tokenizer, input.biasTexts, input.keep);
const spans = input.spanCases.map(([texts, openings]) =>
  copyBias.copySpanSource(tokenizer, texts, openings));
process.stdout.write(JSON.stringify({ results, claims, nested, units, bias, spans }));
"""


@pytest.fixture(scope="module")
def index_data():
    """The example site's chunks with seeded random vectors, as index files."""
    config = load_config(REPO / "example_site")
    config = dataclasses.replace(
        config, assistant=dataclasses.replace(config.assistant, enabled=False)
    )
    chunks = _read(SiteIndexer(config).update(parse_pages(config), ())).chunks
    vectors = np.random.default_rng(0).standard_normal((len(chunks), DIMENSIONS))
    embedder = "models/embedder/manifest.0.json"
    return index_files(chunks, keyword_stats(chunks), vectors.astype(np.float32), embedder)


def _read(files):
    return parse_index(files.description, lambda path: files.files[f"_pagemind/{path}"], Path())


def unit_vector(text: str) -> list[float]:
    seed = int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little") + len(text)
    return np.random.default_rng(seed).standard_normal(DIMENSIONS).astype(np.float32).tolist()


def python_side(files, query: str, query_vector: list[float] | None) -> dict:
    loaded = _read(files)
    ranker = Ranker(loaded.chunks, loaded.stats, loaded.vectors)
    if query_vector is None:
        hits = ranker.keyword(query, grounding_settings()["candidate_chunks"])
    else:
        hits = ranker.hybrid(
            query, np.array(query_vector), grounding_settings()["candidate_chunks"]
        )
    candidates = candidate_sections(hits, loaded.chunks)
    texts = unit_texts(candidates)
    unit_vectors = None if query_vector is None else np.array([unit_vector(t) for t in texts])
    evidence = weigh(candidates, query_vector, unit_vectors, ranker.term_weights(query))
    passage = best_passage(evidence)
    return {
        "hits": [[hit.id, hit.score, hit.strength] for hit in hits],
        "candidates": [[hit.url, list(hit.chunks), hit.text] for hit in candidates],
        "texts": texts,
        "sections": [[hit.url, hit.score] for hit in evidence.sections],
        "units": [
            [u.section, u.unit.text, u.unit.kind, u.unit.block, u.score] for u in evidence.units
        ],
        "covers": evidence.covers,
        "promptPlaces": evidence.prompt_places(PROMPT_TOP_K),
        "openings": answer_openings(evidence, evidence.prompt_places(PROMPT_TOP_K)),
        "passage": passage and {**_quote_json(passage), "also": _quote_json(passage.also)},
    }


def _quote_json(quote) -> dict | None:
    """A quote as runtime/passage.js returns it."""
    return quote and {**quote.to_json(), "breadcrumb": quote.breadcrumb}


ANSWER_TEMPLATES = [
    # (how the answer is made from the evidence's best sections' first units)
    lambda units, q: " ".join(units[:2]),
    lambda units, q: f"{units[0]} Then run `pagemind deploy --force-push` to finish.",
    lambda units, q: f"{q} {units[1] if len(units) > 1 else units[0]} [7]",
    lambda units, q: f"- {units[0]}\n- Use the_invented_key in mkdocs.yml\n\n```\n{units[0]}\n```",
    lambda units, q: "Sure! The answer is yes. Nothing else to say.",
    lambda units, q: f"{units[0].rstrip('.')} zq xv yk wv.",  # two-letter words count
    lambda units, q: f"{units[0]}\n\n```\n{units[0]}",  # ended inside a code block
    lambda units, q: "Run `pagemind gh` on `127.0.0.1:80`, or `gh-deploy`, not gh-deploy-all.",
    lambda units, q: "Open `0.0.1:8000`. Open `127.0.0.1:8000`. See os.path in v1.2.",
    lambda units, q: f"Run this:\n\n```\nrm -rf /\n```\n\n{units[0]} Also:\n\n- {units[0]}",
    lambda units, q: f"{units[0]}\n\n```sh\npagemind serve mydocs\nrm -rf /\n```\nDone.",
    lambda units, q: f"{units[-1]} {units[0]} {units[-1]} {units[0]} More.",  # copies again
]


def answers(files) -> list[dict]:
    cases = []
    for query in QUERIES[:3]:
        evidence = python_side(files, query, None)
        sources = [text for _, _, text in evidence["candidates"][:4]]
        units = [unit.text for unit in cut_units(sources[0])] or ["Nothing."]
        planted = [template(units, query) for template in ANSWER_TEMPLATES]
        if garbled := _garbled_block(sources):
            planted.append(f"{units[0]}\n\n{garbled}")
        for answer in planted:
            cuts = sorted({len(answer) * i // 7 for i in range(1, 7)})
            cases.append({"sources": sources, "question": query, "answer": answer, "cuts": cuts})
    return cases


def _garbled_block(sources: list[str]) -> str | None:
    """A code block of the sources copied with its first line changed: what the model writes
    when it garbles a copy (the claim shows the source's block instead)."""
    for text in sources:
        for unit in cut_units(text):
            lines = unit.text.split("\n")
            if unit.kind == "code" and len(lines) > 3:
                return "\n".join([lines[0], lines[1] + " --changed", *lines[2:]])
    return None


def test_browser_and_terminal_ground_answers_the_same(index_data):
    files = index_data
    rng = np.random.default_rng(1)
    queries, expected = [], []
    for query in QUERIES:
        query_vector = rng.standard_normal(DIMENSIONS).astype(np.float32).tolist()
        hybrid = python_side(files, query, query_vector)
        keyword = python_side(files, query, None)
        queries.append(
            {
                "query": query,
                "queryVector": query_vector,
                "unitVectors": {text: unit_vector(text) for text in hybrid["texts"]},
            }
        )
        expected.append({"hybrid": hybrid, "keyword": keyword})
    cases = answers(files)
    # A subsection that covers the question goes before its section, and one that does not
    # stays where its score places it.
    nested = [nested_sections(subsection_unit) for subsection_unit in (0.5, 0.2)]
    model = read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO))
    tokenizer = PromptTokenizer(model.tokenizer_spec)
    bias_texts = [case["sources"][0] for case in cases[:3]] + QUERIES
    texts = [case["answer"] for case in cases] + [case["sources"][1] for case in cases]
    openings = expected[0]["hybrid"]["openings"]
    span_cases = [  # texts, openings; the last is cut
        [bias_texts[:3], []],
        [bias_texts[:3], openings],
        [[case["sources"][0] for case in cases], openings],
    ]
    data = {
        "description": files.description,
        "files": {
            path.removeprefix("_pagemind/"): base64.b64encode(content).decode()
            for path, content in files.files.items()
        },
        "grounding": grounding_settings(),
        "promptTopK": PROMPT_TOP_K,
        "queries": queries,
        "answers": cases,
        "texts": texts,
        "spec": model.tokenizer_spec,
        "biasTexts": bias_texts,
        "keep": model.chat["stop_ids"],
        "spanCases": span_cases,
        "nested": [
            {
                "candidates": [dataclasses.asdict(section) for section in candidates],
                "query": query.tolist(),
                "vectors": vectors.tolist(),
            }
            for candidates, query, vectors in nested
        ],
    }
    browser = run_module(SCRIPT, data, (RUNTIME / "x").as_uri())

    for theirs, ours, query in zip(browser["results"], expected, QUERIES, strict=True):
        for mode in ("hybrid", "keyword"):
            _assert_same(theirs[mode], ours[mode], f"{mode}: {query}")
    assert any(result["keyword"]["passage"] for result in expected)
    assert any(
        result["hybrid"]["passage"]["also"] for result in expected if result["hybrid"]["passage"]
    )
    assert {result["keyword"]["covers"] for result in expected} == {True, False}
    # Random vectors score low: the hybrid gate lets through what holds the question's words.
    assert {result["hybrid"]["covers"] for result in expected} == {True, False}
    # The prompt quotes a runner-up that covers the question and leaves out one that does not.
    assert {len(result["hybrid"]["promptPlaces"]) for result in expected} > {1}
    assert any(len(r["hybrid"]["promptPlaces"]) < PROMPT_TOP_K for r in expected)
    # Two units of each of the first two quoted sections, as far as they are different units.
    assert 2 < max(len(r["hybrid"]["openings"]) for r in expected) <= 4

    reasons = set()
    snapped = False  # a garbled code block was shown as its source's block
    for theirs, case in zip(browser["claims"], cases, strict=True):
        attributor = Attributor(case["sources"], case["question"])
        final = [[c.unit.text, c.source, c.reason] for c in attributor.claims(case["answer"])]
        assert theirs["final"] == final, case["answer"]
        streaming = [
            [
                [c.unit.text, c.source, c.reason]
                for c in attributor.claims(case["answer"][:cut], False)
            ]
            for cut in case["cuts"]
        ]
        assert theirs["streaming"] == streaming, case["answer"]
        reasons |= {reason for _, _, reason in final}
        snapped |= any(not reason and text not in case["answer"] for text, _, reason in final)
    assert len(reasons) >= 3  # shown, and held back for more than one reason
    assert REPEATS in reasons
    assert snapped

    for theirs, (candidates, query, vectors) in zip(browser["nested"], nested, strict=True):
        ours = weigh(candidates, query, vectors, {}).sections
        assert [url for url, _ in theirs] == [section.url for section in ours]
        assert [score for _, score in theirs] == pytest.approx([s.score for s in ours])
    assert browser["nested"][0][0][0] != browser["nested"][1][0][0]
    units = [[[u.text, u.kind, u.block] for u in cut_units(text)] for text in texts]
    assert browser["units"] == units
    assert browser["bias"] == copy_bias_tokens(tokenizer, bias_texts, model.chat["stop_ids"])
    whole, opened, cut = (copy_span_source(tokenizer, *case) for case in span_cases)
    assert browser["spans"] == [whole, opened, cut]
    assert whole.count(SPAN_SEPARATOR) == 3 and whole[-1] == SPAN_SEPARATOR
    assert ANSWER_START not in whole
    assert opened[0] == ANSWER_START and opened.count(ANSWER_START) == len(openings)
    assert opened.count(SPAN_SEPARATOR) == 3 + len(openings)
    assert cut[: len(opened) - len(whole)] == opened[: len(opened) - len(whole)]  # kept
    assert len(cut) == MAX_COPY_SOURCE < sum(len(tokenizer.ids(t)) + 1 for t in span_cases[2][0])


def _assert_same(theirs: dict, ours: dict, label: str) -> None:
    """Decisions equal; scores equal up to the order of float additions."""
    for key in ("candidates", "texts", "covers", "promptPlaces", "openings", "passage"):
        assert theirs[key] == ours[key], (label, key)
    # hits: [id, score, strength]; sections: [url, score]; units: [..., score]
    for key, exact in (("hits", 1), ("sections", 1), ("units", 4)):
        assert len(theirs[key]) == len(ours[key]), (label, key)
        for a, b in zip(theirs[key], ours[key], strict=True):
            assert a[:exact] == b[:exact], (label, key, a, b)
            assert a[exact:] == pytest.approx(b[exact:], rel=1e-9, abs=1e-12), (label, key)
