"""`pagemind ask --json`: with the real SmolLM2 on example_site (numpy reference, --cpu), the
answer, its sources in `pagemind search --json`'s shape, and the fixed answer without
generation when the docs do not cover the question; with the tiny model, the compiled program
on wgpu writes the numpy reference's answer."""

from __future__ import annotations

import json

from assistant_site import build_assistant_site
from pagemind import cli
from pagemind.assistant.prompt import NOT_COVERED
from paths import REPO

EXAMPLE_SITE = REPO / "example_site"


def ask_json(capsys, *argv: str) -> dict:
    assert cli.main(["ask", str(EXAMPLE_SITE), *argv, "--json", "--cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ask_answers_with_the_sections_it_was_given(capsys):
    result = ask_json(capsys, "How do I deploy to GitHub Pages?", "--max-tokens", "8")
    assert isinstance(result["answer"], str) and result["answer"].strip()
    assert result["answer"] != NOT_COVERED
    sources = result["sources"]
    assert sources and set(sources[0]) == {"url", "page", "heading", "score"}
    assert any(source["page"] == "guides/deploying.md" for source in sources)
    assert all("#" in source["url"] for source in sources)


def test_a_question_the_docs_do_not_cover_gets_the_fixed_answer(capsys):
    result = ask_json(capsys, "What is the boiling point of tungsten in kelvin?")
    assert result == {"answer": NOT_COVERED, "sources": []}


def test_the_gpu_program_answers_as_the_numpy_reference(capsys, tmp_path):
    """wgpu (lavapipe here) runs the site's program; greedy, it writes what numpy writes."""
    site = build_assistant_site(tmp_path).parent
    question = [
        "ask",
        str(site),
        "How do I deploy to GitHub Pages?",
        "--json",
        "--max-tokens",
        "12",
    ]
    capsys.readouterr()
    assert cli.main(question) == 0
    on_gpu = json.loads(capsys.readouterr().out)
    assert cli.main([*question, "--cpu"]) == 0
    assert json.loads(capsys.readouterr().out) == on_gpu
    assert on_gpu["answer"] and on_gpu["sources"]
