"""The index of a whole site: SiteIndexer keeps it up to date build after build; SiteIndex
answers queries from it, in memory or from a built site."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from pagemind.config import SiteConfig
from pagemind.errors import PagemindError
from pagemind.models.registry import resolve_model
from pagemind.search_index.chunk_cache import ChunkCache, page_key
from pagemind.search_index.chunks import Chunk, chunk_page
from pagemind.search_index.embeddings import Embedder, EmbeddingCache
from pagemind.search_index.index_cache import IndexCache
from pagemind.search_index.index_files import (
    IndexFiles,
    LoadedIndex,
    index_files,
    parse_index,
    read_index,
)
from pagemind.search_index.keywords import keyword_stats
from pagemind.search_index.ranking import Hit, Ranker
from pagemind.structure.files import discover, page_url
from pagemind.structure.links import LinkResolver
from pagemind.structure.markdown import MarkdownRenderer
from pagemind.structure.pages import Page, parse_page

log = logging.getLogger("pagemind")

EMBEDDING_CACHE = "embeddings"  # in the site's cache folder, beside the model packages
_PRE_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")


def estimate_tokens(texts: Sequence[str]) -> list[int]:
    """Without an embedder: words and punctuation marks, as BERT's pre-tokenizer splits
    them (WordPiece splits rare words further, so this is a lower bound)."""
    return [len(_PRE_TOKEN.findall(text)) for text in texts]


class SiteIndexer:
    """Chunks per page and the embedding cache, kept between builds: `update` re-chunks only
    the pages it is told changed and embeds only chunks the cache has not seen."""

    def __init__(self, config: SiteConfig, embedder_manifest: Path | None = None) -> None:
        """embedder_manifest: the embedder package in the site's output; None: keyword-only."""
        self.config = config
        device = config.search.embed_device
        self.embedder = Embedder(embedder_manifest, device) if embedder_manifest else None
        embeddings = config.cache_dir / EMBEDDING_CACHE
        self.cache = EmbeddingCache(self.embedder, embeddings) if self.embedder else None
        self.count_tokens = self.embedder.count_tokens if self.embedder else estimate_tokens
        self._check_target()
        tokenizer = self.embedder.manifest_path.name if self.embedder else "estimate"
        self.chunk_cache = ChunkCache(config.cache_dir, config.search.chunk_tokens, tokenizer)
        self._chunks: dict[str, tuple[str, list[Chunk]]] = {}  # by page source: (page key, chunks)
        self.pages_chunked = 0  # over the indexer's life: incremental builds add few

    def update(self, pages: dict[str, Page], changed: Iterable[str]) -> IndexFiles:
        """The index of `pages` (in their order); `changed`: sources parsed anew."""
        started = time.perf_counter()
        for source in set(self._chunks) - set(pages):
            del self._chunks[source]
        for source in set(changed) | (set(pages) - set(self._chunks)):
            self._chunks[source] = self._chunk(pages[source])
        self.chunk_cache.save(dict(self._chunks[source] for source in pages))
        chunks = [chunk for source in pages for chunk in self._chunks[source][1]]
        vectors = None
        if self.cache:
            vectors = self.cache.embed([chunk.embedded_text for chunk in chunks])
        embedder = f"models/embedder/{self.embedder.manifest_path.name}" if self.embedder else None
        files = index_files(chunks, keyword_stats(chunks), vectors, embedder)
        log.info(
            "Search index: %d chunks, %.0f bytes per chunk%s, in %.2f s",
            len(chunks),
            files.bytes_per_chunk,
            "" if vectors is not None else " (keyword-only: the assistant is off)",
            time.perf_counter() - started,
        )
        return files

    def query_cache(self) -> IndexCache:
        """Where `pagemind search` and `ask` look first, keyed by the sources as they are now:
        taken before a build reads them, so it never names newer sources than it keeps."""
        return IndexCache(self.config, _embedder_source(self.config) if self.embedder else None)

    def keep_for_queries(self, cache: IndexCache, files: IndexFiles) -> None:
        """Records in `cache` where the build published its index, so the next query reads
        it from there instead of indexing the site again."""
        manifest = self.embedder.manifest_path if self.embedder else None
        try:
            cache.save(files, manifest, published=self.config.site_dir / "_pagemind")
        except OSError as problem:  # a read-only project only costs the next query its time
            log.debug("Search index not kept for queries: %s", problem)

    def _chunk(self, page: Page) -> tuple[str, list[Chunk]]:
        """The page's key and chunks, from the chunk cache when the page is unchanged."""
        key = page_key(page)
        cached = self.chunk_cache.get(key)
        if cached is not None:
            return key, cached
        self.pages_chunked += 1
        return key, chunk_page(page, self.count_tokens, self.config.search.chunk_tokens)

    def _check_target(self) -> None:
        target = self.config.search.chunk_tokens
        if self.embedder and target > self.embedder.max_tokens - 2:
            raise PagemindError(
                f"chunk_tokens = {target} is more than the embedder reads "
                f"({self.embedder.max_tokens - 2} tokens of text); the rest of each chunk "
                "would be left out of its vector",
                file=self.config.config_file,
                key="search.chunk_tokens",
                fix=f"set chunk_tokens to {self.embedder.max_tokens - 2} or less",
            )


class SiteIndex:
    """Search over a site's index (the Python API of `pagemind search`, `pagemind ask` and
    the retrieval evaluation):

        index = SiteIndex.build(config)       # or SiteIndex.load(site_dir) after a build
        hits = index.search("query", k=5)     # hybrid; keyword-only without an embedder
        is_relevant(hits)                     # pagemind.search_index.ranking
    """

    def __init__(self, loaded: LoadedIndex) -> None:
        self.chunks = loaded.chunks
        self.ranker = Ranker(loaded.chunks, loaded.stats, loaded.vectors)
        manifest = loaded.embedder_manifest
        # Queries on the CPU: loading the GPU program would take longer than one embedding.
        self.embedder = Embedder(manifest, "cpu", verify=False) if manifest else None

    @classmethod
    def build(cls, config: SiteConfig) -> SiteIndex:
        """Index the site's sources in memory (embeddings from the site's cache), or read
        the index back from the cache when no source changed since it was made (see
        index_cache.py); writes nothing but caches."""
        cache = IndexCache(config, _embedder_source(config))
        cached = cache.load()
        if cached is not None:
            log.debug("Search index: unchanged sources, read from %s", cache.folder)
            return cls(cached)
        manifest = _embedder_package(config)
        files = SiteIndexer(config, manifest).update(parse_pages(config), ())
        cache.save(files, manifest)
        return cls.load_files(files, manifest)

    @classmethod
    def load_files(cls, files: IndexFiles, embedder_manifest: Path | None) -> SiteIndex:
        """The index from files an indexer made, read back as the browser reads them."""

        def read(path: str) -> bytes:
            return files.files[f"_pagemind/{path}"]

        loaded = parse_index(files.description, read, Path())
        return cls(LoadedIndex(loaded.chunks, loaded.stats, loaded.vectors, embedder_manifest))

    @classmethod
    def load(cls, site_dir: Path) -> SiteIndex:
        """The index a build wrote into `site_dir`."""
        return cls(read_index(site_dir))

    @property
    def has_vectors(self) -> bool:
        return self.embedder is not None and self.ranker.vectors is not None

    def embed_query(self, query: str) -> np.ndarray | None:
        return self.embedder.embed([query])[0] if self.has_vectors else None

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
        """mode: "hybrid", "keyword" or "vector" (the last two for evaluation)."""
        if mode == "keyword" or not self.has_vectors:
            return self.ranker.keyword(query, k)
        if mode == "vector":
            return self.ranker.vector(self.embed_query(query), k, query)
        return self.ranker.hybrid(query, self.embed_query(query), k)


def parse_pages(config: SiteConfig) -> dict[str, Page]:
    """Every page of the site, parsed as a build parses it."""
    files = discover(config.docs_dir, config.exclude, config.follow_external_symlinks)
    renderer = MarkdownRenderer(config.markdown)
    resolver = LinkResolver({source: page_url(source) for source in files.pages}, set(files.assets))
    return {
        source: parse_page(source, config.docs_dir, renderer, resolver) for source in files.pages
    }


def _embedder_source(config: SiteConfig) -> Path | None:
    """The embedder's weights, None when the assistant is off."""
    if not config.assistant.enabled:
        return None
    return resolve_model(
        config.assistant.embedder,
        "embedder",
        config.root,
        file=config.config_file,
        key="assistant.embedder",
    )


def _embedder_package(config: SiteConfig) -> Path | None:
    """The embedder package the site ships (from the site's model cache), None when the
    assistant is off."""
    if not config.assistant.enabled:
        return None
    from pagemind.bundle import prepare_packages  # numpy and the model readers, only here

    packages = prepare_packages(config)
    return next(package.manifest_path for package in packages if package.role == "embedder")
