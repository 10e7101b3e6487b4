"""`pagemind ask`: with the real SmolLM2 on example_site (numpy reference, --cpu), the
passage, the answer's claims with their citations, its sources in `pagemind search --json`'s
shape, and the fixed answer without generation when the docs do not cover the question; with
the scripted test model, the compiled program on wgpu writes the numpy reference's answer,
and the planted command is held back, in JSON and in the streamed text."""

from __future__ import annotations

import json

from assistant_site import INVENTED, QUESTION, build_assistant_site
from pagemind import cli
from pagemind.assistant.prompt import NOT_COVERED
from paths import REPO

EXAMPLE_SITE = REPO / "example_site"


def ask_json(capsys, *argv: str) -> dict:
    assert cli.main(["ask", str(EXAMPLE_SITE), *argv, "--json", "--cpu"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ask_quotes_and_lists_the_sections_it_was_given(capsys):
    # One token: the passage and the sources come before (and without) generation.
    result = ask_json(capsys, "How do I deploy to GitHub Pages?", "--max-tokens", "1")
    assert set(result) == {"passage", "answer", "claims", "sources"}
    passage = result["passage"]
    assert passage["url"].startswith("guides/deploying/#") and "gh-deploy" in passage["text"]
    also = passage["also"]  # the runner-up section (the Actions way) covers it too
    assert set(also) == {"text", "url", "heading"} and also["url"] != passage["url"]
    assert also["url"].startswith("guides/deploying/#") and also["text"]
    sources = result["sources"]
    assert sources and set(sources[0]) == {"url", "page", "heading", "score"}
    assert any(source["page"] == "guides/deploying.md" for source in sources)
    assert all("#" in source["url"] for source in sources)
    assert len({source["url"] for source in sources}) == len(sources)  # no section twice


def test_ask_cites_each_sentence_it_shows(capsys):
    result = ask_json(capsys, "How do I preview my site while I write?", "--max-tokens", "64")
    sources = result["sources"]
    assert result["claims"]
    for claim in result["claims"]:
        assert set(claim) == {"text", "source", "reason"}
        assert claim["source"] is None or 1 <= claim["source"] <= len(sources)
        if not claim["reason"]:
            assert f"[{claim['source']}]" in result["answer"]


def test_a_question_the_docs_do_not_cover_gets_the_fixed_answer(capsys):
    result = ask_json(capsys, "What is the boiling point of tungsten in kelvin?")
    assert result == {"passage": None, "answer": NOT_COVERED, "claims": [], "sources": []}


def test_the_gpu_program_answers_as_the_numpy_reference(capsys, tmp_path):
    """wgpu (lavapipe here) runs the site's program; greedy, it writes what numpy writes,
    and the command the script plants never reaches the answer."""
    site = build_assistant_site(tmp_path).parent
    question = ["ask", str(site), QUESTION, "--max-tokens", "120"]
    capsys.readouterr()
    assert cli.main([*question, "--json"]) == 0
    on_gpu = json.loads(capsys.readouterr().out)
    assert cli.main([*question, "--json", "--cpu"]) == 0
    assert json.loads(capsys.readouterr().out) == on_gpu
    held = [claim for claim in on_gpu["claims"] if claim["reason"]]
    assert [claim["text"] for claim in held] == [INVENTED]
    assert on_gpu["answer"].count("[1]") >= 2 and "--force-push" not in on_gpu["answer"]

    assert cli.main(question) == 0  # streamed: the passage, the answer, what was held back
    printed = capsys.readouterr().out
    assert printed.startswith("From the docs (")
    shown, _, after = printed.partition("Held back, not found in the docs (1):")
    assert "--force-push" not in shown and "--force-push" in after
    assert "code not in the docs" in after and "\n[1] " in after


def test_an_answer_cut_by_its_token_limit_says_so(capsys, tmp_path):
    """A sentence the token limit cuts off is never shown; the reader is told why."""
    site = build_assistant_site(tmp_path).parent
    assert cli.main(["ask", str(site), QUESTION, "--max-tokens", "4", "--cpu"]) == 0
    printed = capsys.readouterr().out
    assert "(The answer reached its length limit; its unfinished sentence is not shown.)" in printed
    assert "(The model wrote no answer of its own.)" not in printed
