"""Read and validate a site's pagemind.toml (or, through mkdocs_yml.py, its mkdocs.yml)."""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pagemind.config.values import is_css_color, is_docs_path, is_site_url, is_web_url
from pagemind.errors import PagemindError
from pagemind.service_worker import OFFLINE_MODES

CACHE_FOLDER = ".pagemind-cache"  # under the site root: SiteConfig.cache_dir

CONFIG_NAME = "pagemind.toml"
MKDOCS_NAME = "mkdocs.yml"


@dataclass(frozen=True)
class ThemeConfig:
    palette: str = "auto"
    accent: str = "#4f46e5"
    logo: str | None = None
    favicon: str | None = None


@dataclass(frozen=True)
class MarkdownConfig:
    pygments_style: str = "default"
    pygments_style_dark: str = "github-dark"
    toc_depth: int = 3
    # As written: names or {name: options}; once loaded, (name, options) pairs in load order.
    extensions: list | dict = field(default_factory=list)


@dataclass(frozen=True)
class AssistantConfig:
    enabled: bool = True
    model: str = "smollm2-135m-instruct"
    embedder: str = "all-minilm-l6-v2"
    # The format pagemind stores a safetensors embedder's matrices in (EMBEDDER_FORMATS).
    embedder_format: str = "Q8_0"
    system_prompt: str = (
        "You answer questions about these docs. Answer only from the excerpts you are given, "
        "cite the sections you used, and say plainly when they do not hold the answer."
    )
    examples: list[dict] = field(default_factory=list)
    top_k: int = 2
    context_tokens: int = 400
    max_new_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    copy_bias: float = 4.0
    copy_span_bias: float = 3.0
    # LoRA adapters the reader may pick: {name, path (a LoRA GGUF or PEFT folder), scale}.
    adapters: list[dict] = field(default_factory=list)


EMBED_DEVICES = ("auto", "cpu", "gpu")
# Q8_0 keeps MiniLM's vectors within cosine 0.9997 of F32 on every chunk of three docs sites
# at about half F16's download; F16 and F32 are for models that need more.
EMBEDDER_FORMATS = ("Q8_0", "F16", "F32")


@dataclass(frozen=True)
class SearchConfig:
    # Chunk size in the embedder's WordPiece tokens, breadcrumb included; MiniLM reads 254.
    chunk_tokens: int = 200
    # Where a build embeds its chunks: "auto" on a real GPU when wgpu finds one, else numpy.
    embed_device: str = "auto"


@dataclass(frozen=True)
class NavEntry:
    """One nav item as the author wrote it; `key` locates it for error messages."""

    title: str | None
    target: str | None  # a .md path, a folder path ending in "/", or an http(s) URL
    children: tuple[NavEntry, ...]
    key: str
    line: int | None = None


@dataclass(frozen=True)
class _AuthorKeys:
    """The top-level keys an author may write, with their defaults."""

    site_name: str
    site_url: str | None = None
    site_description: str = ""
    site_author: str = ""
    repo_url: str | None = None
    edit_uri: str | None = None
    copyright: str = ""
    docs_dir: str = "docs"
    site_dir: str = "site"
    strict: bool = False
    exclude: list[str] = field(default_factory=list)
    nav: list | None = None
    offline: str = "visited"
    follow_external_symlinks: bool = False


@dataclass(frozen=True)
class SiteConfig:
    root: Path
    config_file: Path | None
    site_name: str
    site_url: str | None
    site_description: str
    site_author: str
    repo_url: str | None
    edit_uri: str | None
    copyright: str
    docs_dir: Path
    site_dir: Path
    base_path: str
    strict: bool
    exclude: tuple[str, ...]
    nav: tuple[NavEntry, ...] | None
    offline: str  # "visited" or "all": which pages the service worker keeps for offline
    theme: ThemeConfig
    markdown: MarkdownConfig
    assistant: AssistantConfig
    search: SearchConfig = SearchConfig()
    # Publish what links in docs_dir to files outside it point to (off: they are left out).
    follow_external_symlinks: bool = False

    @property
    def cache_dir(self) -> Path:
        """What builds and queries keep between runs (model packages, chunks, embeddings,
        the query index, passed checks): never published, safe to delete."""
        return self.root / CACHE_FOLDER

    def edit_url(self, source: str) -> str | None:
        """The "Edit this page" URL for a docs-relative source path, when the repo is known."""
        if not (self.repo_url and self.edit_uri):
            return None
        return f"{self.repo_url.rstrip('/')}/{self.edit_uri.strip('/')}/{source}"


_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}
_TABLES = {
    "theme": ThemeConfig,
    "markdown": MarkdownConfig,
    "assistant": AssistantConfig,
    "search": SearchConfig,
}


def load_config(
    site_dir: Path,
    *,
    site_url: str | None = None,
    output: Path | None = None,
    strict: bool | None = None,
) -> SiteConfig:
    """Load the site at `site_dir`; keyword arguments override what the file says."""
    root = Path(site_dir).resolve()
    if not root.is_dir():
        raise PagemindError(
            f"no such folder: {root}", fix="give the folder that holds pagemind.toml"
        )
    toml_file, mkdocs_file = root / CONFIG_NAME, root / MKDOCS_NAME
    if toml_file.is_file():
        config_file, text = toml_file, read_utf8(toml_file)
        raw = _parse_toml(text, toml_file)
    elif mkdocs_file.is_file():
        from pagemind.config.mkdocs_yml import read_mkdocs_yml

        config_file, text = mkdocs_file, read_utf8(mkdocs_file)
        raw = read_mkdocs_yml(text, mkdocs_file)
    else:
        raise PagemindError(
            f"no {CONFIG_NAME} (or {MKDOCS_NAME}) in {root}",
            fix=f"run `pagemind new {root}` or write a {CONFIG_NAME} with a site_name",
        )
    checker = _Checker(config_file, text)
    tables = {name: raw.pop(name, {}) for name in _TABLES}
    keys = checker.table(raw, _AuthorKeys, "")
    sub = {name: checker.table(tables[name], cls, name) for name, cls in _TABLES.items()}
    _check_theme(sub["theme"], checker)
    sub["markdown"] = _checked_markdown(sub["markdown"], root, checker)
    _check_assistant(sub["assistant"], checker)
    sub["assistant"] = _checked_adapters(sub["assistant"], root, checker)
    _check_search(sub["search"], checker)
    _check_offline(keys.offline, checker)
    _check_urls(keys, site_url, checker)
    docs_dir = (root / keys.docs_dir).resolve()
    if not docs_dir.is_dir():
        raise PagemindError(
            f"docs_dir {keys.docs_dir!r} does not exist ({docs_dir})",
            file=config_file,
            line=checker.line_of("docs_dir"),
            key="docs_dir",
            fix="create the folder or point docs_dir at the folder holding your Markdown",
        )
    output_dir = _output_folder(root, docs_dir, keys.site_dir, output, checker)
    effective_url = site_url if site_url is not None else keys.site_url
    return SiteConfig(
        root=root,
        config_file=config_file,
        site_name=keys.site_name,
        site_url=keys.site_url,
        site_description=keys.site_description,
        site_author=keys.site_author,
        repo_url=keys.repo_url,
        edit_uri=keys.edit_uri,
        copyright=keys.copyright,
        docs_dir=docs_dir,
        site_dir=output_dir,
        base_path=base_path_of(effective_url),
        strict=keys.strict if strict is None else strict,
        exclude=tuple(keys.exclude),
        nav=None if keys.nav is None else tuple(checker.nav(keys.nav)),
        offline=keys.offline,
        theme=sub["theme"],
        markdown=sub["markdown"],
        assistant=sub["assistant"],
        search=sub["search"],
        follow_external_symlinks=keys.follow_external_symlinks,
    )


def _output_folder(
    root: Path, docs_dir: Path, site_dir: str, output: Path | None, checker: _Checker
) -> Path:
    """The folder a build writes into and removes files from, kept apart from the sources:
    it is neither, nor holds, the site's folder or docs_dir, nor lies inside docs_dir."""
    folder = Path(output).resolve() if output else (root / site_dir).resolve()
    if output:
        where: dict[str, Any] = {"key": "-o/--output"}
        example = "-o site"
    else:
        where = {"file": checker.path, "line": checker.line_of("site_dir"), "key": "site_dir"}
        example = 'site_dir = "site"'
    problem = _overlap(folder, root, docs_dir)
    if problem:
        raise PagemindError(
            f"the output folder {folder} {problem}",
            **where,
            fix=f"build into a folder of its own beside docs_dir, e.g. {example}",
        )
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise PagemindError(
            f"the output folder {folder} is a file"
            if existing == folder
            else f"the output folder {folder} cannot be made: {existing} is a file",
            **where,
            fix="name a folder (the build creates it when it does not exist)",
        )
    return folder


def _overlap(folder: Path, root: Path, docs_dir: Path) -> str | None:
    """What is wrong with building into `folder`, None when it stays clear of the sources."""
    if folder == root:
        return "is the site's own folder: a build would overwrite its sources"
    if root.is_relative_to(folder):
        return f"holds the site's folder {root}: a build would overwrite its sources"
    if docs_dir.is_relative_to(folder):
        return f"holds docs_dir {docs_dir}: a build would overwrite the Markdown sources"
    if folder.is_relative_to(docs_dir):
        return f"is inside docs_dir {docs_dir}: each build would publish the last one"
    return None


def base_path_of(url: str | None) -> str:
    """The URL path a site is served under: "https://x.io/repo" and "/repo" both give "/repo/"."""
    path = urlsplit(url).path if url else "/"
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def read_utf8(path: Path) -> str:
    """A text file's content; a file in another encoding gets the byte and line that broke."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PagemindError(
            f"not valid UTF-8 (byte offset {error.start})",
            file=path,
            line=data.count(b"\n", 0, error.start) + 1,
            fix="save it as UTF-8",
        ) from None


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise PagemindError(
            "the TOML is nested too deeply to read",
            file=path,
            fix="flatten the nested lists or tables",
        ) from None
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = str(error).split(" (at line")[0]
        raise PagemindError(
            f"invalid TOML: {message}" + (f" (column {match[2]})" if match else ""),
            file=path,
            line=int(match[1]) if match else None,
            fix="correct the TOML syntax on that line (strings need quotes, tables [brackets])",
        ) from None


def _check_theme(theme: ThemeConfig, checker: _Checker) -> None:
    if theme.palette not in ("auto", "light", "dark"):
        raise checker.error(
            "palette", "theme", f"'palette' must be auto, light or dark, got {theme.palette!r}"
        )
    if not is_css_color(theme.accent):
        raise checker.error(
            "accent",
            "theme",
            f"'accent' must be a CSS colour, got {theme.accent!r}",
            fix='write a hex, rgb(), hsl() or named colour, e.g. "#0f766e" or "teal"',
        )
    for key in ("logo", "favicon"):
        path = getattr(theme, key)
        if path is not None and not is_docs_path(path):
            raise checker.error(
                key,
                "theme",
                f"'{key}' must be a path inside docs_dir, got {path!r}",
                fix=f'give the image\'s path relative to docs_dir, e.g. {key} = "img/{key}.svg"',
            )


def _checked_markdown(markdown: MarkdownConfig, root: Path, checker: _Checker) -> MarkdownConfig:
    """The markdown settings with the author's extensions loaded (see markdown_extensions.py)."""
    if not markdown.extensions:
        return markdown
    from pagemind.config.markdown_extensions import load_extensions  # imports Markdown

    if checker.path.name == MKDOCS_NAME:
        key, key_line = "markdown_extensions", checker.line_of("markdown_extensions")
    else:
        key, key_line = "markdown.extensions", checker.line_of("extensions", "markdown")

    def error(name: str, message: str, fix: str) -> PagemindError:
        line = checker.line_containing(name) if name else None
        return PagemindError(
            message, file=checker.path, line=line or key_line, key=f"{key}[{name!r}]", fix=fix
        )

    where = f"{checker.path}: {key}"
    extensions = load_extensions(markdown.extensions, root, where, error)
    return dataclasses.replace(markdown, extensions=extensions)


def _check_urls(keys: _AuthorKeys, base_url: str | None, checker: _Checker) -> None:
    """URLs that reach the pages' links: the site's address and the repository's."""
    site_fix = 'e.g. "https://owner.github.io/repo/" or "/repo/"'
    if keys.site_url is not None and not is_site_url(keys.site_url):
        raise checker.error(
            "site_url",
            "",
            f"'site_url' must be an http(s) URL or a path starting with /, got {keys.site_url!r}",
            fix=site_fix,
        )
    if base_url is not None and not is_site_url(base_url):
        raise PagemindError(
            f"must be an http(s) URL or a path starting with /, got {base_url!r}",
            key="--base-url",
            fix=site_fix,
        )
    if keys.repo_url is not None and not is_web_url(keys.repo_url):
        raise checker.error(
            "repo_url",
            "",
            f"'repo_url' must be an http(s) URL, got {keys.repo_url!r}",
            fix='e.g. "https://github.com/owner/repo"',
        )


def _check_offline(offline: str, checker: _Checker) -> None:
    if offline not in OFFLINE_MODES:
        raise checker.error(
            "offline",
            "",
            f"'offline' must be {' or '.join(map(repr, OFFLINE_MODES))}, got {offline!r}",
            fix='offline = "visited" keeps the pages a reader opened; "all" keeps every page',
        )


def _check_search(search: SearchConfig, checker: _Checker) -> None:
    if not 32 <= search.chunk_tokens <= 1024:
        raise checker.error(
            "chunk_tokens",
            "search",
            f"'chunk_tokens' must be between 32 and 1024, got {search.chunk_tokens}",
            fix="200 suits the default embedder, which reads 254 tokens of text",
        )
    if search.embed_device not in EMBED_DEVICES:
        raise checker.error(
            "embed_device",
            "search",
            f"'embed_device' must be {' or '.join(map(repr, EMBED_DEVICES))}, "
            f"got {search.embed_device!r}",
            fix='"auto" embeds on a GPU where there is one and with numpy elsewhere',
        )


# [assistant] numbers: key -> (lowest, highest, what the setting does).
_ASSISTANT_RANGES = {
    "top_k": (1, 20, "how many sections the prompt may quote"),
    "context_tokens": (64, 8192, "the tokens the quoted sections may take"),
    "max_new_tokens": (1, 2048, "the longest answer, in tokens"),
    "temperature": (0.0, 2.0, "0 always picks the likeliest word; 0.2 is a good start"),
    "top_p": (0.01, 1.0, "the share of probability kept when sampling; 0.9 is usual"),
    "repetition_penalty": (1.0, 2.0, "1 is none; 1.1 discourages repeating"),
    "copy_bias": (0.0, 10.0, "0 is none; higher prefers the quoted sections' words more"),
    "copy_span_bias": (0.0, 10.0, "0 is none; higher keeps quoting what the answer started to"),
}


def _check_assistant(assistant: AssistantConfig, checker: _Checker) -> None:
    for key, (low, high, meaning) in _ASSISTANT_RANGES.items():
        value = getattr(assistant, key)
        if not low <= value <= high:
            raise checker.error(
                key,
                "assistant",
                f"'{key}' must be between {low} and {high}, got {value}",
                fix=f"set {key} within that range ({meaning})",
            )
    if assistant.embedder_format not in EMBEDDER_FORMATS:
        raise checker.error(
            "embedder_format",
            "assistant",
            f"'embedder_format' must be {' or '.join(map(repr, EMBEDDER_FORMATS))}, "
            f"got {assistant.embedder_format!r}",
            fix='"Q8_0" is the smallest download; "F16" keeps more precision',
        )
    if not assistant.system_prompt.strip():
        raise checker.error(
            "system_prompt",
            "assistant",
            "'system_prompt' is empty",
            fix="tell the model what it answers about, or remove the key for the default",
        )
    for index, example in enumerate(assistant.examples):
        if not (
            isinstance(example, dict)
            and set(example) == {"question", "answer"}
            and all(isinstance(text, str) and text.strip() for text in example.values())
        ):
            raise checker.error(
                "examples",
                "assistant",
                f"'examples[{index}]' must hold exactly a question and an answer, both text",
                fix='write it as { question = "How do I ...?", answer = "Run ..." }',
            )


ADAPTER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,23}")
ADAPTER_SCALE = (0.05, 4.0)
MAX_ADAPTERS = 8
_ADAPTER_EXAMPLE = '{ name = "concise", path = "adapters/concise.gguf", scale = 1.0 }'


def _checked_adapters(assistant: AssistantConfig, root: Path, checker: _Checker) -> AssistantConfig:
    """[assistant] adapters, each with its scale filled in (1.0 unless given)."""
    if len(assistant.adapters) > MAX_ADAPTERS:
        raise checker.error(
            "adapters",
            "assistant",
            f"{len(assistant.adapters)} adapters; a site offers at most {MAX_ADAPTERS}",
            fix="keep the styles readers need most",
        )
    adapters: list[dict] = []
    for index, entry in enumerate(assistant.adapters):
        adapters.append(_checked_adapter(entry, f"adapters[{index}]", root, checker, adapters))
    return dataclasses.replace(assistant, adapters=adapters)


def _checked_adapter(
    entry: Any, key: str, root: Path, checker: _Checker, earlier: list[dict]
) -> dict:
    def error(message: str, fix: str) -> PagemindError:
        line = checker.line_containing(str(entry.get("path"))) if isinstance(entry, dict) else None
        line = line or checker.line_of("adapters", "assistant")
        return PagemindError(message, file=checker.path, line=line, key=f"assistant.{key}", fix=fix)

    if not isinstance(entry, dict) or not {"name", "path"} <= set(entry) <= {
        "name",
        "path",
        "scale",
    }:
        raise error(
            "an adapter is a table with a name, a path and an optional scale", _ADAPTER_EXAMPLE
        )
    name, path, scale = entry["name"], entry["path"], entry.get("scale", 1.0)
    if not isinstance(name, str) or not ADAPTER_NAME.fullmatch(name) or name == "default":
        raise error(
            f"adapter name {name!r} must be a short lowercase identifier other than 'default'",
            'name it like "concise" or "friendly-tone" (letters, digits, - and _)',
        )
    if any(adapter["name"] == name for adapter in earlier):
        raise error(f"two adapters are named {name!r}", "give each adapter its own name")
    if not isinstance(path, str) or not (root / path).exists():
        raise error(
            f"adapter {name!r}: {path!r} does not exist (paths are relative to {root})",
            "point at a LoRA GGUF (convert_lora_to_gguf.py) or a PEFT adapter folder",
        )
    low, high = ADAPTER_SCALE
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not low <= scale <= high:
        raise error(
            f"adapter {name!r}: scale must be a number between {low} and {high}, got {scale!r}",
            "1.0 applies the adapter as trained; less weakens it, more strengthens it",
        )
    return {"name": name, "path": path, "scale": float(scale)}


class _Checker:
    """Validates tables against the dataclasses above; every error names file, line and key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, key: str, table: str = "") -> int | None:
        """The line setting `key`, looked for inside `[table]` (top level when empty)."""
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*[=:]")
        current = ""
        for number, line in enumerate(self.lines, 1):
            header = re.match(r"^\s*\[([^\]]+)\]\s*(#.*)?$", line)
            if header:
                current = header[1].strip()
            elif current == table and pattern.match(line):
                return number
        return None

    def line_containing(self, text: str) -> int | None:
        return next((n for n, line in enumerate(self.lines, 1) if text in line), None)

    def error(self, key: str, table: str, message: str, fix: str | None = None) -> PagemindError:
        dotted = f"{table}.{key}" if table else key
        line = self.line_of(key, table)
        return PagemindError(message, file=self.path, line=line, key=dotted, fix=fix)

    def table(self, raw: Any, cls: type, table: str) -> Any:
        if not isinstance(raw, dict):
            raise self.error(table, "", f"[{table}] must be a table")
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        where = f"[{table}] in {self.path.name}" if table else self.path.name
        for key in raw:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise self.error(
                    key,
                    table,
                    f"unknown key '{key}' in {where}{hint}",
                    fix=f"rename it to '{close[0]}'"
                    if close
                    else f"known keys: {', '.join(names)}",
                )
            self._check_type(key, table, raw[key], hints[key])
        required = [f.name for f in dataclasses.fields(cls) if _is_required(f)]
        for key in required:
            if key not in raw:
                raise PagemindError(
                    f"missing required key '{key}'",
                    file=self.path,
                    key=key,
                    fix=f'add a line like {key} = "My docs"',
                )
        return cls(**raw)

    def _check_type(self, key: str, table: str, value: Any, hint: Any) -> None:
        allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if value is None and type(None) in allowed:
            return
        for kind in allowed:
            base = typing.get_origin(kind) or kind
            if base is float and isinstance(value, int | float) and not isinstance(value, bool):
                return
            if base is int and isinstance(value, bool):
                continue
            if base is list and isinstance(value, list):
                return self._check_items(key, table, value, typing.get_args(kind))
            if isinstance(value, base):
                return
        wanted = " or ".join(_describe(kind) for kind in allowed if kind is not type(None))
        raise self.error(key, table, f"'{key}' must be {wanted}, got {_describe(type(value))}")

    def _check_items(self, key: str, table: str, value: list, item_types: tuple) -> None:
        if not item_types or item_types[0] is typing.Any:
            return
        for index, item in enumerate(value):
            if not isinstance(item, item_types[0]):
                raise self.error(
                    key,
                    table,
                    f"'{key}[{index}]' must be {_describe(item_types[0])}, "
                    f"got {_describe(type(item))}",
                )

    def nav(self, entries: list, key: str = "nav") -> list[NavEntry]:
        return [self._nav_entry(entry, f"{key}[{index}]") for index, entry in enumerate(entries)]

    def _nav_entry(self, entry: Any, key: str) -> NavEntry:
        if isinstance(entry, str):
            return NavEntry(None, entry, (), key, self.line_containing(entry))
        if isinstance(entry, dict) and len(entry) == 1:
            ((title, value),) = entry.items()
            inner = f'{key}."{title}"'
            if isinstance(value, str):
                return NavEntry(str(title), value, (), inner, self.line_containing(value))
            if isinstance(value, list):
                return NavEntry(str(title), None, tuple(self.nav(value, inner)), inner)
        raise PagemindError(
            "a nav entry must be a path, { Title = path } or { Title = [ ... ] }",
            file=self.path,
            line=self.line_of("nav"),
            key=key,
            fix='write it like { "Guides" = ["guides/writing.md"] }',
        )


def _is_required(item: dataclasses.Field) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


def _describe(kind: Any) -> str:
    base = typing.get_origin(kind) or kind
    if base is list:
        return "a list"
    if base is dict:
        return "a table"
    return _TYPE_NAMES.get(base, "a " + getattr(base, "__name__", str(base)))
