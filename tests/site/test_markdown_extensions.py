"""A site's own Markdown extensions, from mkdocs.yml or pagemind.toml, rendered as MkDocs
renders them: real builds, the pages' HTML and the search index they write."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pagemind.builder import SiteBuilder
from pagemind.config import load_config
from pagemind.preview import Preview
from pagemind.search_index.index_files import read_index
from site_helpers import run_cli, write_site

PAGE = """\
# Home

/// tip | Install first
Run the installer before anything else.
///

--8<-- "shared.md"

=== "pip"

    Install with pip.

=== "uv"

    Install with uv.

```mermaid
graph LR; A-->B
```

## Ünïcode Heading

The end.
"""
SNIPPET = "Text from the shared snippet.\n"
MKDOCS_YML = """\
site_name: Blocks
markdown_extensions:
  - pymdownx.blocks.admonition
  - pymdownx.snippets:
      base_path: [snippets]
      check_paths: true
  - pymdownx.tabbed
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
"""
# MkDocs' way to keep non-ASCII letters in heading ids.
UNICODE_SLUGS = """\
  - toc:
      slugify: !!python/object/apply:pymdownx.slugs.slugify {kwds: {case: lower}}
"""
PAGEMIND_TOML = """\
site_name = "Blocks"

[assistant]
enabled = false

[markdown]
extensions = [
  "pymdownx.blocks.admonition",
  { "pymdownx.snippets" = { base_path = ["snippets"], check_paths = true } },
  "pymdownx.tabbed",
  { "pymdownx.superfences" = { custom_fences = [
    { name = "mermaid", class = "mermaid", format = "!!python/name:pymdownx.superfences.fence_code_format" },
  ] } },
  { "markdown.extensions.admonition" = {} },
]
"""  # noqa: E501
# What each extension writes for the page above.
RENDERED = (
    '<div class="admonition tip">\n<p class="admonition-title">Install first</p>\n'
    "<p>Run the installer before anything else.</p>\n</div>",
    "<p>Text from the shared snippet.</p>",
    '<div class="tabbed-set tabbed-alternate"',
    '<label for="__tabbed_1_2">uv</label>',
    '<div class="tabbed-block">\n<p>Install with uv.</p>\n</div>',
    '<pre class="mermaid"><code>graph LR; A--&gt;B</code></pre>',
)
RAW_MARKERS = ("///", "--8<--", '=== "', "```mermaid")


def article(site: Path) -> str:
    html = (site / "index.html").read_text(encoding="utf-8")
    return html[html.index("<article") : html.index("</article>")]


def search_texts(site: Path) -> list[str]:
    return [chunk.text for chunk in read_index(site).chunks]


def blocks_site(root: Path, config_name: str, config: str) -> Path:
    return write_site(
        root,
        {config_name: config, "docs/index.md": PAGE, "snippets/shared.md": SNIPPET},
    )


def test_mkdocs_yml_extensions_render_blocks_snippets_tabs_and_fences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = blocks_site(tmp_path / "src", "mkdocs.yml", MKDOCS_YML + UNICODE_SLUGS)
    # Snippets' base_path is relative to mkdocs.yml's folder, not to the working directory.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    SiteBuilder(load_config(root, output=tmp_path / "out")).build()
    page = article(tmp_path / "out")
    for html in (*RENDERED, '<h2 id="ünïcode-heading">'):
        assert html in page
    assert not any(marker in page for marker in RAW_MARKERS)


def test_pagemind_toml_extensions_render_as_mkdocs_yml_does(tmp_path: Path) -> None:
    from_yml = blocks_site(tmp_path / "yml", "mkdocs.yml", MKDOCS_YML)
    from_toml = blocks_site(tmp_path / "toml", "pagemind.toml", PAGEMIND_TOML)
    SiteBuilder(load_config(from_yml, output=tmp_path / "yml-out")).build()
    assert run_cli("build", from_toml, "-o", tmp_path / "toml-out") == 0
    assert article(tmp_path / "toml-out") == article(tmp_path / "yml-out")


def test_the_search_index_holds_the_rendered_text_and_no_raw_markers(tmp_path: Path) -> None:
    root = blocks_site(tmp_path / "src", "pagemind.toml", PAGEMIND_TOML)
    assert run_cli("build", root, "-o", tmp_path / "out") == 0
    text = "\n".join(search_texts(tmp_path / "out"))
    for words in ("Install first", "Run the installer", "shared snippet", "Install with uv"):
        assert words in text
    assert not any(marker in text for marker in RAW_MARKERS)


def test_pagemind_defaults_take_the_authors_options(tmp_path: Path) -> None:
    """toc is pagemind's too: the author's permalink symbol replaces pagemind's."""
    root = write_site(
        tmp_path / "src",
        {
            "mkdocs.yml": "site_name: T\nmarkdown_extensions:\n  - toc:\n      permalink: '#'\n",
            "docs/index.md": "# Home\n\n## Setup\n\nText.\n",
        },
    )
    SiteBuilder(load_config(root, output=tmp_path / "out")).build()
    page = article(tmp_path / "out")
    assert 'aria-label="Link to section: Setup" class="headerlink" href="#setup"' in page
    assert re.search(r'class="headerlink"[^>]*>#</a></h2>', page)


def test_an_extension_that_cannot_be_imported_warns_once_and_the_build_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = write_site(
        tmp_path / "src",
        {
            "pagemind.toml": 'site_name = "T"\n[assistant]\nenabled = false\n'
            '[markdown]\nextensions = ["mkdocs-click", "pymdownx.blocks.admonition", "macros"]\n',
            "docs/index.md": "# Home\n\n/// note\nNoted.\n///\n",
        },
    )
    assert run_cli("build", root, "-o", tmp_path / "out") == 0
    err = capsys.readouterr().err
    for name in ("mkdocs-click", "macros"):
        [warning] = [line for line in err.splitlines() if repr(name) in line]
        assert warning.startswith(f"warning: {root / 'pagemind.toml'}: markdown.extensions")
        assert "cannot be imported" in warning
    assert '<div class="admonition note">' in article(tmp_path / "out")


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ("  - pymdownx.tabbed:\n      alternate_stile: true\n", "has no option 'alternate_stile'"),
        ("  - pymdownx.tabbed:\n      alternate_style: maybe\n", "does not accept its options"),
        ("  - pymdownx.snippets:\n      base_path: 3\n", "base_path must be a folder"),
    ],
)
def test_a_bad_option_stops_the_build_naming_file_line_key_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture, extension: str, message: str
) -> None:
    config = f"site_name: T\nmarkdown_extensions:\n  - admonition\n{extension}"
    root = write_site(tmp_path / "src", {"mkdocs.yml": config, "docs/index.md": "# Home\n"})
    assert run_cli("build", root, "-o", tmp_path / "out") != 0
    err = capsys.readouterr().err
    name = extension.split()[1].rstrip(":")
    assert f"{root / 'mkdocs.yml'}:4: markdown_extensions[{name!r}]: " in err
    assert message in err and "fix: " in err
    assert not (tmp_path / "out").exists()


def test_tags_naming_other_modules_are_never_imported_or_called(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proof = tmp_path / "called"
    config = f"""\
site_name: T
extra: !!python/object/apply:os.system ["touch {proof}"]
copy: !!python/object/apply:markdown.markdownFromFile {{kwds: {{output: {proof}}}}}
markdown_extensions:
  - pymdownx.superfences:
      custom_fences:
        - name: run
          class: run
          format: !!python/name:os.system
"""
    root = write_site(
        tmp_path / "src", {"mkdocs.yml": config, "docs/index.md": "# Home\n\n```run\nls\n```\n"}
    )
    SiteBuilder(load_config(root, output=tmp_path / "out")).build()
    assert not proof.exists()
    assert "names os.system, which pagemind does not load" in caplog.text
    assert 'class="run"' not in article(tmp_path / "out")


def test_serve_rebuilds_the_pages_when_a_snippet_outside_docs_changes(tmp_path: Path) -> None:
    root = blocks_site(tmp_path / "src", "pagemind.toml", PAGEMIND_TOML)
    preview = Preview(root, port=0)
    preview.start()
    try:
        (root / "snippets" / "shared.md").write_text("The edited snippet.\n")
        deadline = time.monotonic() + 15
        while "The edited snippet." not in article(preview.output_dir):
            assert time.monotonic() < deadline, "the page was not rebuilt"
            time.sleep(0.1)
    finally:
        preview.close()


def test_a_name_listed_twice_loads_once_at_its_first_place_with_both_options(
    tmp_path: Path,
) -> None:
    config = """\
site_name: T
markdown_extensions:
  - toc:
      permalink: "#"
  - abbr
  - markdown.extensions.toc:
      toc_depth: 2
"""
    root = write_site(tmp_path / "src", {"mkdocs.yml": config, "docs/index.md": "# Home\n"})
    extensions = load_config(root).markdown.extensions
    assert extensions == [("toc", {"permalink": "#", "toc_depth": 2}), ("abbr", {})]
