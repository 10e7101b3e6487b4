"""Heading-aware chunks: sections with their anchors and breadcrumbs, code blocks whole."""

from __future__ import annotations

import re
from pathlib import Path

from pagemind.builder import SiteBuilder
from pagemind.config import load_config
from pagemind.search_index import SiteIndex
from pagemind.search_index.chunks import chunk_page
from pagemind.search_index.site_index import estimate_tokens, parse_pages
from paths import REPO
from search_site import write_site


def test_sections_become_chunks_with_anchor_breadcrumb_and_text(tmp_path: Path) -> None:
    pages = parse_pages(load_config(write_site(tmp_path)))
    chunks = chunk_page(pages["install.md"], estimate_tokens, 200)

    assert [(c.url, c.heading, c.breadcrumb) for c in chunks] == [
        ("install/#installing", "Installing", "Installing"),
        ("install/#linux", "On Linux", "Installing \u203a On Linux"),
        ("install/#on-windows", "On Windows", "Installing \u203a On Windows"),
        (
            "install/#troubleshooting-drivers",
            "Troubleshooting drivers",
            "Installing \u203a On Windows \u203a Troubleshooting drivers",
        ),
    ]
    assert chunks[0].text == "Intro text before any section."
    assert "sudo apt-get install widget\nwidget --version" in chunks[1].text
    assert "\u00b6" not in "".join(c.text + c.heading for c in chunks)  # no permalink signs
    assert all(c.page == "install.md" for c in chunks)


def test_text_before_the_first_heading_links_to_the_page(tmp_path: Path) -> None:
    page = "Some words before any heading.\n\n## Later\n\nMore words.\n"
    pages = parse_pages(load_config(write_site(tmp_path, {"intro.md": page})))
    chunks = chunk_page(pages["intro.md"], estimate_tokens, 200)
    assert [(c.url, c.anchor, c.breadcrumb) for c in chunks] == [
        ("intro/", "", "Intro"),
        ("intro/#later", "later", "Intro \u203a Later"),
    ]


def test_long_sections_are_cut_between_blocks_and_code_blocks_stay_whole(
    tmp_path: Path,
) -> None:
    paragraphs = [f"Paragraph {n} " + "word " * 20 for n in range(8)]
    code = "\n".join(f"line_{n} = compute({n})" for n in range(30))  # far over the target
    body = "\n\n".join([*paragraphs[:4], f"```python\n{code}\n```", *paragraphs[4:]])
    pages = parse_pages(load_config(write_site(tmp_path, {"long.md": f"## Long\n\n{body}\n"})))
    target = 60

    chunks = chunk_page(pages["long.md"], estimate_tokens, target)

    assert len(chunks) > 3
    assert {c.url for c in chunks} == {"long/#long"}
    assert [c for c in chunks if code in c.text] != []  # whole, line breaks kept
    for chunk in chunks:
        blocks = chunk.text.split("\n\n")
        size = estimate_tokens([chunk.breadcrumb + "\n" + chunk.text])[0]
        assert size <= target + 1 or len(blocks) == 1, chunk.text
    joined = "\n\n".join(c.text for c in chunks)
    assert [p.strip() for p in paragraphs] == re.findall(r"Paragraph \d[ a-z]*word", joined)


def test_every_chunk_of_the_example_site_points_to_an_anchor_on_its_page(
    tmp_path: Path,
) -> None:
    config = load_config(REPO / "example_site", output=tmp_path)
    builder = SiteBuilder(config)  # no assistant bundle: keyword-only index
    builder.build()
    index = SiteIndex.load(tmp_path)

    assert {c.page for c in index.chunks} == set(builder.pages)
    for chunk in index.chunks:
        page, _, anchor = chunk.url.partition("#")
        html = (tmp_path / page / "index.html").read_text(encoding="utf-8")
        assert not anchor or f'id="{anchor}"' in html, chunk.url
        assert chunk.text.strip()


def test_pages_without_the_assistant_stay_searchable(tmp_path: Path) -> None:
    index = SiteIndex.build(load_config(write_site(tmp_path)))
    hits = index.search("zorblax licence", k=1)
    assert [(hit.page, hit.url) for hit in hits] == [("legal.md", "legal/#licence")]


def test_chunk_text_keeps_code_and_lists_as_the_reader_sees_them(tmp_path: Path) -> None:
    page = (
        "## Options\n\nSet `site_url` in **pagemind.toml**:\n\n"
        '```toml\nsite_url = "https://x.io/"\n\n[theme]\n```\n\n'
        "- first `--strict`\n- second\n    1. nested\n    2. more\n\n"
        "Then:\n\n1. third\n2. fourth\n"
    )
    pages = parse_pages(load_config(write_site(tmp_path, {"opts.md": page})))
    [chunk] = chunk_page(pages["opts.md"], estimate_tokens, 200)
    assert chunk.text.split("\n\n") == [
        "Set `site_url` in pagemind.toml:",
        '```\nsite_url = "https://x.io/"',  # a code block keeps its blank lines
        "[theme]\n```",
        "- first `--strict`",
        "- second",
        "1. nested",
        "2. more",
        "Then:",
        "1. third",
        "2. fourth",
    ]
