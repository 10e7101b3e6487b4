"""Bad author input: each mistake gets one clear message naming the file, line or key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pagemind.builder import SiteBuilder
from pagemind.config import load_config
from pagemind.errors import PagemindError
from site_helpers import run_cli, write_site

# The assistant is off: these tests are about pages, and its bundle takes seconds.
MINIMAL = {
    "pagemind.toml": 'site_name = "Demo"\n\n[assistant]\nenabled = false\n',
    "docs/index.md": "# Home\n",
}


def build_error(root: Path) -> PagemindError:
    with pytest.raises(PagemindError) as caught:
        SiteBuilder(load_config(root)).build()
    return caught.value


def test_broken_toml_names_line_and_column(tmp_path: Path) -> None:
    root = write_site(tmp_path, {**MINIMAL, "pagemind.toml": 'site_name = "Demo"\nstrict = \n'})
    error = build_error(root)
    assert error.line == 2
    assert "column" in error.message
    assert str(error).startswith(f"{root / 'pagemind.toml'}:2:")


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    root = write_site(tmp_path, {**MINIMAL, "pagemind.toml": 'site_nme = "Demo"\n'})
    error = build_error(root)
    assert error.message == "unknown key 'site_nme' in pagemind.toml; did you mean 'site_name'?"
    assert error.line == 1


def test_unknown_key_in_a_table(tmp_path: Path) -> None:
    toml = 'site_name = "Demo"\n\n[theme]\npalete = "dark"\n'
    error = build_error(write_site(tmp_path, {**MINIMAL, "pagemind.toml": toml}))
    assert "unknown key 'palete' in [theme]" in error.message
    assert "did you mean 'palette'?" in error.message
    assert (error.key, error.line) == ("theme.palete", 4)


def test_wrong_type(tmp_path: Path) -> None:
    toml = 'site_name = "Demo"\nstrict = "yes"\n'
    error = build_error(write_site(tmp_path, {**MINIMAL, "pagemind.toml": toml}))
    assert error.message == "'strict' must be true or false, got a string"
    assert error.line == 2


def test_missing_docs_dir(tmp_path: Path) -> None:
    (tmp_path / "pagemind.toml").write_text('site_name = "Demo"\ndocs_dir = "pages"\n')
    error = build_error(tmp_path)
    assert "docs_dir 'pages' does not exist" in error.message
    assert error.line == 2


def test_missing_nav_target_names_the_key_path(tmp_path: Path) -> None:
    toml = 'site_name = "Demo"\nnav = ["index.md", { "Guides" = ["index.md", "guides/gone.md"] }]\n'
    error = build_error(write_site(tmp_path, {**MINIMAL, "pagemind.toml": toml}))
    assert (error.key, error.line) == ('nav[1]."Guides"[1]', 2)
    assert "guides/gone.md" in error.message


def test_non_utf8_markdown(tmp_path: Path) -> None:
    root = write_site(tmp_path, MINIMAL)
    (root / "docs" / "latin1.md").write_bytes(b"# Caf\xe9\n\nline two\n")
    error = build_error(root)
    assert error.file == root / "docs" / "latin1.md"
    assert (error.line, error.fix) == (1, "save it as UTF-8")
    assert "byte offset 5" in error.message


def test_bad_front_matter(tmp_path: Path) -> None:
    page = "---\ntitle: Fine\ndescription: a: b\n---\n# Page\n"
    root = write_site(tmp_path, {**MINIMAL, "docs/page.md": page})
    error = build_error(root)
    assert (error.file, error.line) == (root / "docs" / "page.md", 3)
    assert "front matter" in error.message


def test_broken_link_is_a_warning_with_file_and_line(tmp_path: Path) -> None:
    page = "# Page\n\n```\n[not a link](nowhere.md)\n```\n\nSee [gone](gone.md).\n"
    root = write_site(tmp_path, {**MINIMAL, "docs/page.md": page})
    report = SiteBuilder(load_config(root, output=tmp_path / "out")).build()
    assert report.warnings == [f"{root / 'docs' / 'page.md'}:7: link to a missing page 'gone.md'"]


def test_missing_anchor_is_a_warning(tmp_path: Path) -> None:
    root = write_site(tmp_path, {**MINIMAL, "docs/page.md": "# Page\n\n[x](index.md#nope)\n"})
    report = SiteBuilder(load_config(root, output=tmp_path / "out")).build()
    assert report.warnings == [
        f"{root / 'docs' / 'page.md'}:3: link 'index.md#nope' points to a missing anchor '#nope'"
    ]


def test_strict_turns_broken_links_into_a_failing_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = write_site(tmp_path, {**MINIMAL, "docs/page.md": "# Page\n\n[gone](gone.md)\n"})
    assert run_cli("build", root, "-o", tmp_path / "lenient") == 0
    assert run_cli("build", root, "-o", tmp_path / "strict", "--strict") == 1
    assert f"{root / 'docs' / 'page.md'}:3: link to a missing page" in capsys.readouterr().err
    assert not (tmp_path / "strict" / "index.html").exists()


def test_clean_refuses_to_delete_the_site_sources(tmp_path: Path) -> None:
    root = write_site(tmp_path, MINIMAL)
    assert run_cli("build", root, "-o", root, "--clean") == 1
    assert (root / "docs" / "index.md").is_file()


def test_wrong_type_in_a_table_points_at_that_table(tmp_path: Path) -> None:
    toml = 'site_name = "Demo"\n\n[theme]\naccent = "#123456"\n\n[assistant]\ntop_k = "five"\n'
    error = build_error(write_site(tmp_path, {**MINIMAL, "pagemind.toml": toml}))
    assert error.message == "'top_k' must be an integer, got a string"
    assert (error.key, error.line) == ("assistant.top_k", 7)
