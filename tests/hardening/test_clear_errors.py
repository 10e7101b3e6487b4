"""Bad input gets one clear line naming the file, line or key and the fix, never a traceback;
values the config writes into CSS and HTML are checked; output piped into `head` ends
quietly; an empty query is refused and a huge question is cut before anything reads it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pagemind.assistant.answer import Answerer
from pagemind.assistant.prompt import cut_question
from pagemind.config import load_config
from pagemind.models.tiny_model import tiny_llama_gguf
from paths import REPO
from site_helpers import run_cli, tree_digest, write_site

PAGEMIND = [sys.executable, "-m", "pagemind"]
PLAIN_CONFIG = 'site_name = "Hardening"\n[assistant]\nenabled = false\n'


def plain_site(root: Path, pages: dict[str, str], config: str = PLAIN_CONFIG) -> Path:
    return write_site(root, {"pagemind.toml": config, **{f"docs/{n}": t for n, t in pages.items()}})


def failed_with(capsys: pytest.CaptureFixture, *argv: str | Path) -> str:
    """The error a CLI run printed; it must fail with exit code 1 and no traceback."""
    assert run_cli(*argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: " in err, err
    return err[err.index("error: ") :]


DEEP = 2000
NESTINGS = {
    "list": "".join("  " * depth + "- item\n" for depth in range(DEEP)),
    "ordered list": "".join("   " * depth + "1. item\n" for depth in range(DEEP)),
    "emphasis": "*" * DEEP + "a" + "*" * DEEP + "\n",
    "admonition": "".join("    " * depth + "!!! note\n" for depth in range(DEEP)),
    "html blocks": '<div markdown="1">\n' * DEEP + "x\n" + "</div>\n" * DEEP,
}


@pytest.mark.parametrize("kind", NESTINGS)
def test_deep_nesting_names_the_page_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, kind: str
) -> None:
    site = plain_site(tmp_path, {"index.md": "# Home\n", "deep.md": "# Deep\n\n" + NESTINGS[kind]})
    before = tree_digest(site, skip=("site",))
    message = failed_with(capsys, "build", site)
    assert re.search(rf"{re.escape(str(site / 'docs' / 'deep.md'))}:\d+: ", message)
    assert "nested too deeply" in message and "fix: " in message
    assert tree_digest(site, skip=("site",)) == before


@pytest.mark.parametrize(
    ("where", "text", "expected"),
    [
        ("page", "---\ntitle: " + "[" * 3000 + "]" * 3000 + "\n---\n# x\n", "matter is nested"),
        ("page", "---\ntitle: ok\nbad: \x07\n---\n# x\n", "deep.md:3: invalid front matter"),
        ("page", "---\n1: one\n---\n# x\n", "front matter must be key: value lines"),
        ("config", "site_name: x\nnav: " + "[" * 3000 + "]" * 3000, "the YAML is nested"),
        ("config", "site_name: x\n\x02: y\n", "mkdocs.yml:2: invalid YAML: control character"),
        ("config", "1: 2\nsite_name: x\n", "must be a mapping of key: value lines"),
    ],
)
def test_yaml_failures_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, where: str, text: str, expected: str
) -> None:
    if where == "page":
        site = plain_site(tmp_path, {"index.md": "# Home\n", "deep.md": text})
    else:
        site = write_site(tmp_path, {"mkdocs.yml": text, "docs/index.md": "# Home\n"})
    assert expected in failed_with(capsys, "build", site, "--no-check")


def test_deeply_nested_toml_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    site = plain_site(tmp_path, {"index.md": "# Home\n"}, "nav = " + "[" * 3000 + "]" * 3000)
    message = failed_with(capsys, "build", site)
    assert "pagemind.toml" in message and "nested too deeply" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "config.json:1: not valid JSON"),
        ('{"model_type": "bert",\n "vocab_size": "wide"}', "vocab_size must be a positive"),
        ('["a list"]', "config.json: expected a JSON object"),
        (b"\xff\xfe{}", "config.json:1: not valid UTF-8"),
    ],
)
def test_models_inspect_names_the_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str | bytes, expected: str
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("tokenizer.json", "model.safetensors"):
        (folder / name).write_text("{}", encoding="utf-8")
    config = folder / "config.json"
    config.write_bytes(content if isinstance(content, bytes) else content.encode())
    message = failed_with(capsys, "models", "inspect", folder)
    assert expected in message and "fix: " in message


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["models", "list"],
        ["search", "{site}", "text", "-k", "50"],
        ["search", "{site}", "text", "--json"],
    ],
)
def test_output_piped_into_a_closed_reader_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    """As `pagemind ... | head -1` once head has read its line: no BrokenPipeError."""
    site = plain_site(tmp_path, {f"p{n}.md": f"# Page {n}\n\ntext {n}\n" for n in range(60)})
    command = [*PAGEMIND, *(arg.format(site=site) for arg in argv)]
    reader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    reader.stdout.close()  # the reader is gone before the first line is written
    err = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert reader.returncode in (0, 1)


@pytest.mark.parametrize(
    ("table", "key", "value", "expected"),
    [
        ("theme", "accent", "red;} body{display:none", "theme.accent: 'accent' must be a CSS"),
        ("theme", "accent", "url(https://evil.example/x.png)", "must be a CSS colour"),
        ("theme", "accent", "#12345", "must be a CSS colour"),
        ("theme", "logo", "javascript:alert(1)", "theme.logo: 'logo' must be a path inside"),
        ("theme", "favicon", "../../etc/passwd", "theme.favicon: 'favicon' must be a path"),
        ("", "site_url", "javascript:alert(1)", "site_url: 'site_url' must be an http(s) URL"),
        ("", "site_url", "//evil.example/", "must be an http(s) URL or a path"),
        ("", "repo_url", "javascript:alert(1)", "repo_url: 'repo_url' must be an http(s) URL"),
    ],
)
def test_values_written_into_pages_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture, table: str, key: str, value: str, expected: str
) -> None:
    setting = f"{key} = {json.dumps(value)}\n"
    top, theme = ("", setting) if table else (setting, "")
    config = f'site_name = "x"\n{top}[theme]\n{theme}[assistant]\nenabled = false\n'
    site = plain_site(tmp_path, {"index.md": "# Home\n"}, config)
    message = failed_with(capsys, "build", site)
    assert expected in message and "fix: " in message
    line = config.splitlines().index(setting.strip()) + 1
    assert f"pagemind.toml:{line}" in message
    assert not (site / "site").exists()


@pytest.mark.parametrize("value", ["teal", "#0F766E", "rgb(15 118 110)", "hsl(175deg 77% 26%)"])
def test_css_colours_the_docs_promise_build(tmp_path: Path, value: str) -> None:
    config = PLAIN_CONFIG + f'[theme]\naccent = "{value}"\n'
    site = plain_site(tmp_path, {"index.md": "# Home\n"}, config)
    assert run_cli("build", site) == 0
    assert f"--accent: {value};" in (site / "site" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("base_url", ["javascript:alert(1)", "repo name", "", "//evil.example"])
def test_junk_base_url_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, base_url: str
) -> None:
    site = plain_site(tmp_path, {"index.md": "# Home\n"})
    message = failed_with(capsys, "build", site, "--base-url", base_url)
    assert message.startswith("error: --base-url: must be an http(s) URL or a path")
    assert not (site / "site").exists()


@pytest.mark.parametrize("base_url", ["/repo/", "https://owner.github.io/repo/"])
def test_good_base_url_builds(tmp_path: Path, base_url: str) -> None:
    site = plain_site(tmp_path, {"index.md": "# Home\n"})
    assert run_cli("build", site, "--base-url", base_url) == 0
    assert '"/repo/' in (site / "site" / "404.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["search", "ask"])
@pytest.mark.parametrize("query", ["", "   \n\t "])
def test_empty_query_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, command: str, query: str
) -> None:
    site = plain_site(tmp_path, {"index.md": "# Home\n"})
    message = failed_with(capsys, command, site, query)
    assert "is empty" in message and "fix: " in message


def test_a_huge_question_is_cut_to_the_window_first(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """`pagemind ask` with a 100 KB question answers as it does with the question cut to as
    many characters as the model's window holds tokens: the rest, about installing, is
    never searched (it would have found the install page) nor tokenized."""
    pages = {
        "index.md": "# Home\n\nDeploy the site to GitHub Pages with `pagemind gh-deploy`.\n",
        "install.md": "# Install\n\nInstall pagemind with pip, then build the site.\n",
    }
    config = 'site_name = "x"\n[assistant]\nmodel = "tiny.gguf"\nmax_new_tokens = 4\n'
    site = plain_site(tmp_path, pages, config)
    tiny_llama_gguf(site / "tiny.gguf")
    window = Answerer(load_config(site), cpu=True).window
    start = "How do I deploy the site to GitHub Pages? " * (window // 40)
    question = start + "install with pip " * 6000
    assert len(question) > 100_000 and len(cut_question(question, window)) == window
    answers = []
    for asked in (cut_question(question, window), question):
        assert run_cli("ask", site, asked, "--cpu", "--json") == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0] == answers[1]
    assert "gh-deploy" in answers[1]["passage"]["text"]  # the start decided, not the rest
