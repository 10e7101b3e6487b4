"""The keyword tokenizer is the same in Python and in runtime/retrieval.js (run by Node)."""

from __future__ import annotations

from node_script import run_module
from pagemind.search_index.keywords import STOPWORDS, keyword_terms
from paths import REPO, docs_paragraphs

TRICKY = [
    "Héllo, WÖRLD! Ünïcode café naïve",
    "東京 and 中文 text, Ελληνικά, русский текст",
    "snake_case_name camelCase 3.14 v2 x86_64 ½ ² ①",
    "libraries pages boxes glasses status analysis does goes ties",
    "emoji 🚀 joins 👩‍💻 nothing",
    "İstanbul ǅ ß ﬁ",
    "TimeoutException HTTPClient getURL v2Client caféBar ÉtéX ΣίσυφοςΣ",
]


def test_python_and_javascript_split_every_docs_paragraph_alike() -> None:
    texts = docs_paragraphs() + TRICKY
    script = f"""
import {{ readFileSync }} from "node:fs";
import {{ keywordTerms }} from "{(REPO / "runtime" / "retrieval.js").as_uri()}";
const {{ texts, stopwords }} = JSON.parse(readFileSync(0, "utf8"));
const words = new Set(stopwords);
process.stdout.write(JSON.stringify(texts.map((text) => keywordTerms(text, words))));
"""
    javascript = run_module(script, {"texts": texts, "stopwords": sorted(STOPWORDS)})
    assert len(texts) > 2000  # pagemind's docs and MkDocs'
    for text, theirs in zip(texts, javascript, strict=True):
        assert theirs == keyword_terms(text), text
