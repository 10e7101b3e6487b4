"""Build a site: parse pages, check links, render the theme, write the output folder."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from pagemind.config import SiteConfig
from pagemind.entry import ENTRY_PATH, entry_json, runtime_files
from pagemind.errors import PagemindError
from pagemind.render import Renderer, Site, ThemeAsset, sitemap, theme_files
from pagemind.resources import resource_dir
from pagemind.service_worker import SERVICE_WORKER_NAME, ServiceWorkerWriter
from pagemind.structure.files import DocsFiles, discover, output_path, page_url
from pagemind.structure.links import LinkResolver, missing_anchors
from pagemind.structure.markdown import MarkdownRenderer
from pagemind.structure.nav import build_nav, page_order
from pagemind.structure.output import Content, OutputFolder, SourceFile
from pagemind.structure.pages import Page, parse_page

if TYPE_CHECKING:
    from pagemind.bundle import AssistantBundle, BundleInProgress

log = logging.getLogger("pagemind")


@dataclass
class BuildReport:
    pages: int
    rendered: list[str] = field(default_factory=list)  # URLs written this time
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


class SiteBuilder:
    """Keeps parsed pages between builds, so `build(changed)` redoes only what changed.

    The config is fixed for the builder's life: after pagemind.toml changes, load it again
    and make a new SiteBuilder.

    Everything is parsed, checked, rendered and indexed before the first file is written, so
    a build that fails leaves the output folder as it was.
    """

    def __init__(
        self, config: SiteConfig, assistant: AssistantBundle | BundleInProgress | None = None
    ) -> None:
        """assistant: the assistant's files (see pagemind.bundle), written with the pages;
        None when the assistant is off. A bundle still in progress is waited for once the
        pages are indexed (the index needs its embedder only)."""
        self.config = config
        self.assistant = assistant
        self._output = OutputFolder(config.site_dir)
        self.pages: dict[str, Page] = {}  # by docs-relative source path
        self._files = DocsFiles((), ())
        self._markdown = MarkdownRenderer(config.markdown)
        self._templates = Renderer()
        self._theme: list[ThemeAsset] = []
        self._runtime: dict[str, bytes] = {}
        self._service_worker = ServiceWorkerWriter(config.offline)
        # Imported here: `pagemind --help` does not load numpy and the tokenizers.
        from pagemind.search_index.site_index import SiteIndexer

        self._indexer = SiteIndexer(config, assistant.embedder_manifest if assistant else None)
        self._index_files: set[str] = set()

    def build(self, changed: set[Path] | None = None, clean: bool = False) -> BuildReport:
        """Build everything (`changed` None) or only what the changed source files affect.
        clean: also remove every file in the output folder that this build did not write."""
        started = time.perf_counter()
        query_cache = self._indexer.query_cache()
        files = discover(
            self.config.docs_dir, self.config.exclude, self.config.follow_external_symlinks
        )
        # Added or removed pages change the nav and what every link resolves to.
        structural = files.pages != self._files.pages
        full = changed is None or not self.pages or self._needs_full_build(changed)
        changed_sources = set() if full else self._docs_sources(changed)
        reparse = (
            files.pages
            if full or structural
            else [source for source in files.pages if source in changed_sources]
        )
        titles_before = {source: page.title for source, page in self.pages.items()}
        self._parse(files, reparse)
        nav = build_nav(self.pages, self.config.nav, self.config.config_file)
        warnings = self._check(files) + self._outside_links(files)
        index = self._indexer.update(self.pages, reparse)
        if self.assistant:
            self.assistant = self.assistant.finished()
        if full:
            self._theme = theme_files(self.config)
            self._runtime = runtime_files(resource_dir("runtime"))
        retitled = any(titles_before.get(s) != self.pages[s].title for s in reparse)
        render_all = full or structural or retitled
        site = Site(
            config=self.config,
            nav=nav,
            order=page_order(nav),
            pages_by_url={page.url: page for page in self.pages.values()},
            assets={asset.name: asset.path for asset in self._theme},
            assistant=self._settings_path,
        )
        to_render = list(self.pages) if render_all else reparse
        outputs = self._render(site, to_render, with_site_files=render_all)
        self._index_files = set(index.files)
        outputs.update(index.files)
        outputs[ENTRY_PATH] = entry_json(self._settings_path, index=index.description)
        assets = files.assets if full else [a for a in files.assets if a in changed_sources]
        outputs.update((name, SourceFile(self.config.docs_dir / name)) for name in assets)
        warnings += self._write(outputs, self._all_outputs(files), clean)
        self._indexer.keep_for_queries(query_cache, index)
        self._files = files
        report = BuildReport(
            pages=len(self.pages),
            rendered=[self.pages[source].url for source in to_render],
            warnings=warnings,
            seconds=time.perf_counter() - started,
        )
        for warning in warnings:
            log.warning("warning: %s", warning)
        log.info("Built %d pages in %.2f s", len(report.rendered), report.seconds)
        return report

    @property
    def _settings_path(self) -> str | None:
        return self.assistant.settings_path if self.assistant else None

    def _needs_full_build(self, changed: set[Path]) -> bool:
        templates = resource_dir("site_templates").resolve()
        for path in (Path(p).resolve() for p in changed):
            if path == self.config.config_file or path.is_relative_to(templates):
                return True
        return False

    def _docs_sources(self, changed: set[Path]) -> set[str]:
        docs = self.config.docs_dir
        paths = (Path(p).resolve() for p in changed)
        return {path.relative_to(docs).as_posix() for path in paths if path.is_relative_to(docs)}

    def _parse(self, files: DocsFiles, sources: list[str] | tuple[str, ...]) -> None:
        resolver = LinkResolver({s: page_url(s) for s in files.pages}, set(files.assets))
        for source in set(self.pages) - set(files.pages):
            del self.pages[source]
        for source in sources:
            self.pages[source] = parse_page(source, self.config.docs_dir, self._markdown, resolver)
        self.pages = {source: self.pages[source] for source in files.pages}

    def _check(self, files: DocsFiles) -> list[str]:
        """Broken links and anchors; in strict mode they stop the build before any write."""
        anchors = {source: page.anchors for source, page in self.pages.items()}
        warnings = []
        for page in self.pages.values():
            warnings += page.warnings
            warnings += missing_anchors(
                str(self.config.docs_dir / page.source), page.links, anchors
            )
        for key in ("logo", "favicon"):
            path = getattr(self.config.theme, key)
            if path and path not in files.assets:
                warnings.append(
                    f"{self.config.config_file}: theme.{key} '{path}' is not in docs_dir"
                )
        if warnings and self.config.strict:
            raise PagemindError(
                f"{len(warnings)} broken link(s) in strict mode:\n  " + "\n  ".join(warnings),
                fix="fix the links, or set strict = false to report them as warnings",
            )
        return warnings

    def _outside_links(self, files: DocsFiles) -> list[str]:
        """One warning per link in docs_dir that leads out of it, left out of the site."""
        links = (self.config.docs_dir / source for source in files.outside_links)
        return [
            f"{link}: links to {link.resolve()}, outside docs_dir; left out of the site "
            "(follow_external_symlinks = true in pagemind.toml publishes it)"
            for link in links
        ]

    def _render(self, site: Site, sources: list[str], with_site_files: bool) -> dict[str, Content]:
        outputs: dict[str, Content] = {}
        quiet = not sys.stderr.isatty() or not log.isEnabledFor(logging.INFO)
        for source in tqdm(sources, desc="Rendering", unit="page", disable=quiet, leave=False):
            page = self.pages[source]
            outputs[output_path(page.url)] = self._templates.page(page, site).encode()
        if with_site_files:
            outputs["404.html"] = self._templates.not_found(site).encode()
            outputs["sitemap.xml"] = sitemap(self.config, list(self.pages.values())).encode()
            # Without it GitHub Pages runs Jekyll, which drops folders named _*, such as _pagemind/.
            outputs[".nojekyll"] = b""
            outputs.update((asset.path, asset.data) for asset in self._theme)
            outputs.update(self._runtime)
            outputs.update(self.assistant.files if self.assistant else {})
        return outputs

    def _all_outputs(self, files: DocsFiles) -> set[str]:
        pages = {output_path(page.url) for page in self.pages.values()}
        theme = {asset.path for asset in self._theme}
        site_files = {"404.html", "sitemap.xml", ".nojekyll", SERVICE_WORKER_NAME, ENTRY_PATH}
        site_files |= set(self._runtime) | self._index_files
        bundle = set(self.assistant.files) if self.assistant else set()
        return pages | set(files.assets) | theme | site_files | bundle

    def _write(self, outputs: dict[str, Content], keep: set[str], clean: bool) -> list[str]:
        """New files first, then stale ones removed: a failure never leaves less than before.
        Returns the warnings of the removal."""
        self._output.place(outputs)
        refused = self._output.remove_stale(keep, everything=clean)
        # After the removal: its precache manifest names the files as they now are.
        self._service_worker.write(self.config.site_dir, keep)
        self._output.write_manifest(keep)
        return refused
