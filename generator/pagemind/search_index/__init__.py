"""The site's search index: chunks -> embeddings -> keyword statistics -> index files, and
the ranking that answers queries from them (the same in runtime/retrieval.js).

    chunks.py        heading-aware chunks of each parsed page
    chunk_cache.py   each page's chunks kept between builds, by its rendered content
    embeddings.py    the embedder package's model and the content-hash embedding cache
    keywords.py      the keyword tokenizer and BM25 statistics
    index_files.py   the content-hashed files under _pagemind/index/ and site.json's "index"
    shards.py        the index cut into term shards and page-grouped fragments
    ranking.py       BM25, cosine, rank fusion, Hit and is_relevant
    site_index.py    SiteIndexer (kept by the builder between builds) and SiteIndex (queries)
    index_cache.py   the index of unchanged sources, kept for the next query

Python API (`pagemind search`, `pagemind ask`, bench/eval_answers.py):

    index = SiteIndex.build(config)      # or SiteIndex.load(site_dir) after a build
    hits = index.search(query, k=5)      # hybrid; keyword-only when the site has no embedder
    is_relevant(hits)                    # False: the docs do not cover the query

A Hit has url ("<page url>#<anchor>", site-relative), page (source .md relative to
docs_dir), heading, breadcrumb (page title, section, subsection), text, score, and the figures
is_relevant reads (cosine, coverage).
"""

from pagemind.search_index.ranking import Hit, is_relevant
from pagemind.search_index.site_index import SiteIndex

__all__ = ["Hit", "SiteIndex", "is_relevant"]
