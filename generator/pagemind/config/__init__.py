"""A site's configuration: pagemind.toml (site.py), or mkdocs.yml for sites that migrate
from MkDocs (mkdocs_yml.py, read into the same keys), validated into a SiteConfig."""

from pagemind.config.site import (
    CACHE_FOLDER,
    CONFIG_NAME,
    EMBEDDER_FORMATS,
    MKDOCS_NAME,
    AssistantConfig,
    MarkdownConfig,
    NavEntry,
    SearchConfig,
    SiteConfig,
    ThemeConfig,
    load_config,
    read_utf8,
)

__all__ = [
    "CACHE_FOLDER",
    "CONFIG_NAME",
    "EMBEDDER_FORMATS",
    "MKDOCS_NAME",
    "AssistantConfig",
    "MarkdownConfig",
    "NavEntry",
    "SearchConfig",
    "SiteConfig",
    "ThemeConfig",
    "load_config",
    "read_utf8",
]
