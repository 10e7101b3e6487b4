"""Pages into HTML files with the Jinja2 theme; theme assets, highlight CSS, 404 and sitemap."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

import jinja2
from pygments.formatters import HtmlFormatter
from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound

from pagemind.config import SiteConfig
from pagemind.entry import ENTRY_PATH, RUNTIME_OUTPUT
from pagemind.errors import PagemindError
from pagemind.resources import resource_dir
from pagemind.structure.files import relative_url, url_path
from pagemind.structure.nav import NavNode
from pagemind.structure.pages import Page

THEME_OUTPUT = "_pagemind/theme"


@dataclass(frozen=True)
class Site:
    """What every page template sees besides its own page."""

    config: SiteConfig
    nav: tuple[NavNode, ...]
    order: list[str]  # page URLs in reading order
    pages_by_url: Mapping[str, Page]
    assets: dict[str, str]  # theme asset name -> site-relative hashed path
    assistant: str | None = None  # site-relative path of assistant.<hash>.json, when bundled


@dataclass(frozen=True)
class ThemeAsset:
    name: str  # as templates ask for it: "style.css"
    path: str  # content-hashed, site-relative: "_pagemind/theme/style.3f2a1c9e.css"
    data: bytes


def theme_files(config: SiteConfig) -> list[ThemeAsset]:
    """The theme's static files plus the highlight CSS, under content-hashed names."""
    folder = resource_dir("site_templates") / "assets"
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
    files["pygments.css"] = pygments_css(config).encode()
    return [ThemeAsset(name, hashed_path(name, data), data) for name, data in files.items()]


def hashed_path(name: str, data: bytes) -> str:
    stem, extension = posixpath.splitext(name)
    return f"{THEME_OUTPUT}/{stem}.{hashlib.sha256(data).hexdigest()[:8]}{extension}"


def pygments_css(config: SiteConfig) -> str:
    """Light code colours by default, dark ones when the page is in dark mode."""
    light = _style(config, "pygments_style")
    dark = _style(config, "pygments_style_dark")
    return "\n".join(
        [
            HtmlFormatter(style=light).get_style_defs(":root:not([data-theme='dark']) .highlight"),
            HtmlFormatter(style=dark).get_style_defs(":root[data-theme='dark'] .highlight"),
        ]
    )


def _style(config: SiteConfig, key: str) -> str:
    name = getattr(config.markdown, key)
    try:
        get_style_by_name(name)
    except ClassNotFound:
        raise PagemindError(
            f"unknown Pygments style '{name}'",
            file=config.config_file,
            key=f"markdown.{key}",
            fix="pick one listed by `pygmentize -L styles`, e.g. default, friendly, monokai",
        ) from None
    return name


class Renderer:
    """The Jinja2 theme in site_templates/; every URL it writes is relative to the page."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(resource_dir("site_templates")),
            autoescape=jinja2.select_autoescape(["html", "xml"]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def page(self, page: Page, site: Site) -> str:
        previous_page, next_page = _neighbours(page, site)
        return self.env.get_template("page.html").render(
            **self._common(site, base=relative_url("", page.url)),
            page=page,
            previous_page=previous_page,
            next_page=next_page,
            edit_url=site.config.edit_url(url_path(page.source)),
        )

    def not_found(self, site: Site) -> str:
        # Served at any depth, so its URLs are absolute under the base path.
        return self.env.get_template("404.html").render(
            **self._common(site, base=site.config.base_path), page=None
        )

    def _common(self, site: Site, base: str) -> dict:
        return {
            "config": site.config,
            "nav": site.nav,
            "base": base,
            "assets": {name: base + path for name, path in site.assets.items()},
            "logo": _asset_url(base, site.config.theme.logo),
            "favicon": _asset_url(base, site.config.theme.favicon),
            "entry": base + ENTRY_PATH,
            "runtime": f"{base}{RUNTIME_OUTPUT}/",
            "assistant": site.assistant is not None,
        }


def _asset_url(base: str, path: str | None) -> str | None:
    return base + url_path(path) if path else None


def sitemap(config: SiteConfig, pages: list[Page]) -> str:
    """Absolute URLs when site_url is set, else URLs absolute under the base path."""
    prefix = config.site_url.rstrip("/") + "/" if config.site_url else config.base_path
    entries = "".join(
        f"  <url><loc>{escape(prefix + page.url)}</loc></url>\n"
        for page in sorted(pages, key=lambda page: page.url)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{entries}</urlset>\n"
    )


def _neighbours(page: Page, site: Site) -> tuple[Page | None, Page | None]:
    """The pages before and after this one in nav order (none for pages outside the nav)."""
    if page.url not in site.order:
        return None, None
    index = site.order.index(page.url)
    before = site.order[index - 1] if index > 0 else None
    after = site.order[index + 1] if index + 1 < len(site.order) else None
    return (
        site.pages_by_url[before] if before is not None else None,
        site.pages_by_url[after] if after is not None else None,
    )
