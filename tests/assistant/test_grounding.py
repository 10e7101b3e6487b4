"""The grounding steps in Python (pagemind.assistant: sentences, support, attribution,
evidence, passage, copy_bias): units cut as a reader reads them, code that must appear
verbatim, claims cited to the source that supports them and held back otherwise, sections
ranked again by their best sentence, the passage, and the copy-bias tokens."""

from __future__ import annotations

import numpy as np
import pytest
from grounding_cases import hit, nested_sections
from pagemind.assistant.attribution import (
    CODE_NOT_FOUND,
    INTRODUCES,
    NOT_SUPPORTED,
    REPEATS,
    RESTATES,
    Attributor,
    cited_text,
)
from pagemind.assistant.copy_bias import copy_bias_tokens, dense_bias
from pagemind.assistant.evidence import MIN_SCORE, candidate_sections, unit_texts, weigh
from pagemind.assistant.passage import PASSAGE_CHARS, best_passage, quote_order
from pagemind.assistant.sentences import cut_units, join_units
from pagemind.assistant.support import SourceText, code_spans, content_words
from pagemind.assistant.tokenizer import PromptTokenizer
from pagemind.models.gguf_source import read_gguf
from pagemind.models.registry import resolve_model
from pagemind.search_index.chunks import Chunk
from pagemind.search_index.ranking import MIN_COVERAGE, sections
from paths import REPO

DEPLOYING = (
    "Run `pagemind gh-deploy mydocs` to publish the site. It builds the site and pushes it "
    "to the gh-pages branch, e.g. for GitHub Pages.\n\n"
    "Pass a message:\n\n"
    '```sh\npagemind gh-deploy mydocs --message "Docs for v1.2"\n```\n\n'
    "- `--force` deploys uncommitted sources.\n"
    "- `--no-push` commits without pushing."
)
SERVING = "Run `pagemind serve mydocs` and open http://127.0.0.1:8000/ in your browser."


def kinds(text: str) -> list[tuple[str, str]]:
    return [(unit.kind, unit.text) for unit in cut_units(text)]


def test_units_are_sentences_list_items_and_whole_code_blocks():
    assert kinds(DEPLOYING) == [
        ("sentence", "Run `pagemind gh-deploy mydocs` to publish the site."),
        ("sentence", "It builds the site and pushes it to the gh-pages branch, e.g. for GitHub "
         "Pages."),
        ("sentence", "Pass a message:"),
        ("code", '```sh\npagemind gh-deploy mydocs --message "Docs for v1.2"\n```'),
        ("item", "- `--force` deploys uncommitted sources."),
        ("item", "- `--no-push` commits without pushing."),
    ]  # fmt: skip
    assert kinds("Version 1.2 is out. (It is.) lower case. 1. item")[:2] == [
        ("sentence", "Version 1.2 is out."),
        ("sentence", "(It is.) lower case."),
    ]
    code = "```\nfirst\n\nsecond\n```"  # a blank line inside code stays inside
    assert kinds(f"Before.\n\n{code}\nAfter.") == [
        ("sentence", "Before."),
        ("code", code),
        ("sentence", "After."),
    ]
    assert kinds("Open:\n\n```\nnot closed yet") == [
        ("sentence", "Open:"),
        ("code", "```\nnot closed yet"),
    ]


def test_units_join_back_into_paragraphs_and_blocks():
    units = cut_units(DEPLOYING)
    assert join_units(units[:2]) == DEPLOYING.split("\n\n")[0]
    assert join_units([units[0], units[3]]).count("\n\n") == 1


def test_code_that_must_appear_verbatim():
    [sentence] = cut_units("Use `pagemind serve`, edit mkdocs.yml (e.g. site_name), pass --strict "
                           "to build() in MyClass and/or read docs/index.md.")  # fmt: skip
    assert code_spans(sentence) == [
        "pagemind serve", "mkdocs.yml", "site_name", "--strict", "build()", "MyClass",
        "and/or", "docs/index.md",
    ]  # fmt: skip
    [block] = cut_units("```sh\nrun  this\n\n  and that\n```")
    assert code_spans(block) == ["run this", "and that"]
    assert content_words("It is the site's e.g. default, also here.") == ["site", "default"]


def test_words_match_across_inflections_but_not_strangers():
    source = SourceText("Configuration of the builder: deploying builds to pages.")
    found = ["configure", "build", "builder", "deploy", "deployment", "page", "pages"]
    assert all(source.has_word(word) for word in found)
    assert not any(source.has_word(word) for word in ("con", "bui", "heroku", "deploz"))


def test_code_must_appear_whole_not_as_a_part_of_a_longer_name_or_number():
    source = SourceText("Serve on `127.0.0.1:8000` with `pagemind gh-deploy` or mkdocs.yml v1.2.3.")
    assert source.has_code("127.0.0.1:8000") and source.has_code("pagemind gh-deploy")
    assert source.has_code("mkdocs") and source.has_code("gh-deploy") and source.has_code("v1.2.3")
    assert not any(
        source.has_code(span)
        for span in ("127.0.0.1:80", "0.0.1:8000", "pagemind gh", "deploy", "mkdocs.y", "1.2")
    )


def test_claims_are_cited_to_the_source_that_supports_them():
    attributor = Attributor([SERVING, DEPLOYING], "How do I deploy my docs to GitHub Pages?")
    answer = (
        "To publish, run `pagemind gh-deploy mydocs` [2]. "
        "It pushes the site to the gh-pages branch. "
        "Then run `pagemind deploy --force-push` to finish. "
        "Your docs go live on Heroku servers overnight. "
        "How do you deploy your docs to GitHub Pages?\n\n"  # its code is the question's
        '```\npagemind gh-deploy mydocs --message "Docs for v1.2"\n```'
    )
    claims = attributor.claims(answer)
    assert [(claim.source, claim.reason) for claim in claims] == [
        (2, ""),
        (2, ""),
        (2, CODE_NOT_FOUND),
        (1, NOT_SUPPORTED),  # "server" ("serve") is all it shares: [1] first on a tie
        (2, RESTATES),  # [2] holds its code, "GitHub"
        (2, ""),
    ]
    assert claims[0].unit.text == "To publish, run `pagemind gh-deploy mydocs`."  # its [2] out
    text = cited_text(claims)
    assert text.startswith("To publish, run `pagemind gh-deploy mydocs` [2]. It pushes")
    assert "--force-push" not in text and "Heroku" not in text
    assert text.endswith('```\npagemind gh-deploy mydocs --message "Docs for v1.2"\n```\n[2]')


def test_while_streaming_the_last_unit_waits():
    attributor = Attributor([SERVING], "How do I preview?")
    answer = "Run `pagemind serve mydocs`. Then open http://127.0.0.1:8000/ in your"
    assert [c.unit.text for c in attributor.claims(answer, final=False)] == [
        "Run `pagemind serve mydocs`."
    ]
    [*_, last] = attributor.claims(answer)
    assert last.unit.text.startswith("Then open") and last.supported
    unclosed = attributor.claims("Run:\n\n```\npagemind serve mydocs")
    assert cited_text(unclosed).endswith("```\npagemind serve mydocs\n```\n[1]")


def test_a_sentence_that_introduces_what_was_held_back_is_held_back_too():
    attributor = Attributor([SERVING], "How do I preview?")
    made_up = attributor.claims("Run `pagemind serve mydocs` like this:\n\n```\nrm -rf /\n```")
    assert [claim.reason for claim in made_up] == [INTRODUCES, NOT_SUPPORTED]
    shown = attributor.claims("Run this:\n\n```\npagemind serve mydocs\n```")
    assert [claim.reason for claim in shown] == ["", ""]
    # While it streams, the introduction waits for what it introduces.
    assert attributor.claims("Run `pagemind serve mydocs`:\n\n```\npagemind", final=False) == []
    assert attributor.claims("Run `pagemind serve mydocs`:")[0].reason == INTRODUCES


def test_a_sentence_the_answer_already_showed_is_not_shown_again():
    attributor = Attributor([DEPLOYING], "How do I deploy?")
    pushes = "It pushes the site to the gh-pages branch."
    answer = f"{pushes} Then run `gh-deploy --oops`. {pushes} Run `pagemind gh-deploy mydocs`."
    claims = attributor.claims(answer)
    assert [claim.reason for claim in claims] == ["", CODE_NOT_FOUND, REPEATS, ""]
    assert cited_text(claims) == f"{pushes[:-1]} [1]. Run `pagemind gh-deploy mydocs` [1]."
    # A sentence held back before may come again: it was never shown.
    again = attributor.claims("Run `gh-deploy --oops`. Run `gh-deploy --oops`. " + pushes)
    assert [claim.reason for claim in again] == [CODE_NOT_FOUND, CODE_NOT_FOUND, ""]


def test_a_sentence_with_no_source_word_has_no_citation():
    [claim] = Attributor([SERVING], "What is new?").claims("Bananas grow quickly.")
    assert (claim.source, claim.reason) == (None, NOT_SUPPORTED)
    assert Attributor([], "?").claims("Anything at all.")[0].reason == NOT_SUPPORTED


def test_chunks_of_one_section_are_one_source_in_reading_order():
    hits = [hit(7, "a/#x", "second"), hit(2, "b/#y", "other"), hit(6, "a/#x", "first", 0.9)]
    grouped = sections(hits)
    assert [(h.url, h.text, h.chunks, h.cosine) for h in grouped] == [
        ("a/#x", "first\n\nsecond", (6, 7), 0.9),
        ("b/#y", "other", (2,), 0.5),
    ]


def test_a_candidate_section_brings_its_chunks_next_to_the_ranked_ones():
    chunks = [
        Chunk("a.md", "a/#x", "x", "x", "A \u203a x", text)
        for text in ("Intro.", "Retries are on the transport:", "```\nretries=1\n```", "Far.")
    ] + [Chunk("b.md", "b/#y", "y", "y", "B \u203a y", "Other section.")]
    ranked = [hit(1, "a/#x", chunks[1].text), hit(4, "b/#y", chunks[4].text)]
    first, second = candidate_sections(ranked, chunks)
    # The code block the ranked chunk introduces, and the chunk before it; not the one two
    # away, nor the next section's first chunk.
    assert first.chunks == (0, 1, 2)
    assert first.text == "Intro.\n\nRetries are on the transport:\n\n```\nretries=1\n```"
    assert second == ranked[1]


def unit_vectors(texts: list[str], near: str, query: np.ndarray) -> np.ndarray:
    """Random vectors, but the unit containing `near` points along the query."""
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((len(texts), query.size))
    for i, text in enumerate(texts):
        if near in text:
            rows[i] = query + 0.1 * rows[i]
    return rows


def test_a_section_whose_best_sentence_answers_rises_and_gives_the_passage():
    query = np.random.default_rng(1).standard_normal(16)
    candidates = [
        hit(0, "serve/#serve", SERVING, cosine=0.6),
        hit(1, "deploy/#gh-deploy", DEPLOYING, cosine=0.4),
    ]
    texts = unit_texts(candidates)
    assert texts[0] == f"Page \u203a serve\n{SERVING}"
    # A code block is embedded with the sentence that introduces it.
    assert (
        "Page \u203a gh-deploy\nPass a message:\n```sh\npagemind gh-deploy mydocs --message"
        in texts[4]
    )
    vectors = unit_vectors(texts, "Pass a message", query)
    evidence = weigh(candidates, query, vectors, {"deploy": 1.0})
    assert [section.url for section in evidence.sections] == ["deploy/#gh-deploy", "serve/#serve"]
    assert evidence.sections[0].score > MIN_SCORE and evidence.covers
    passage = best_passage(evidence)
    # The sentence ending in ":" brings the code block it introduces; a section shorter than
    # the passage's budget is quoted whole, in reading order.
    assert passage.url == "deploy/#gh-deploy"
    assert "Pass a message:\n\n```sh\npagemind gh-deploy mydocs" in passage.text
    assert passage.text == join_units(cut_units(DEPLOYING))


def test_the_passage_takes_the_best_units_up_to_its_budget_and_no_long_block():
    query = np.random.default_rng(1).standard_normal(16)
    filler = [f"Sentence {n} is about some other matter of the site entirely." for n in range(12)]
    long_code = "```\n" + "\n".join(f"answer_line_{n} = {n}" for n in range(60)) + "\n```"
    text = "\n\n".join([*filler[:6], "The answer is here.", *filler[6:9], long_code, *filler[9:]])
    candidates = [hit(0, "long/#answer", text, cosine=0.6)]
    texts = unit_texts(candidates)
    vectors = unit_vectors(texts, "The answer", query)
    vectors[texts.index(f"Page \u203a answer\n{filler[8]}\n{long_code}")] += query  # second best
    passage = best_passage(weigh(candidates, query, vectors, {}))
    assert "The answer is here." in passage.text
    assert "answer_line_0" not in passage.text  # the code scores high but would be a page
    assert PASSAGE_CHARS <= len(passage.text) <= 2 * PASSAGE_CHARS
    quoted = [unit.text for unit in cut_units(passage.text)]
    assert quoted == [unit.text for unit in cut_units(text) if unit.text in quoted]


def test_a_definition_is_quoted_with_its_term_and_a_note_with_its_title():
    options = [f"`--option-{n}`\n\nDoes thing {n} of the deploy, and only that." for n in range(6)]

    def first_quoted(*paragraphs: str, near: str = "Commit to the local") -> str:
        """The passage's first group of units, for a query nearest the unit holding `near`."""
        query = np.random.default_rng(1).standard_normal(16)
        candidates = [hit(0, "cli/#gh-deploy", "\n\n".join(paragraphs), cosine=0.6)]
        vectors = unit_vectors(unit_texts(candidates), near, query)
        units = weigh(candidates, query, vectors, {}).units_of(0)
        return join_units([units[i].unit for i in sorted(quote_order(units)[0])])

    best = "Commit to the local branch only. Inspect it, then push it yourself."
    definitions = [*options[:3], f"`--no-push`\n\n{best}", *options[3:]]
    assert first_quoted(*definitions) == "`--no-push`\n\nCommit to the local branch only."
    assert first_quoted(*definitions, near="Inspect it") == (
        "`--no-push`\n\nInspect it, then push it yourself."
    )
    assert (
        first_quoted(*options, f"Warning\n\n{best}")
        == "Warning\n\nCommit to the local branch only."
    )
    # A label is short, alone in its paragraph and without a sentence's end, and what it
    # heads is not: a table's rows are no labels.
    for paragraph in [
        "It deploys.",
        "It deploys to gh-pages, the branch that GitHub Pages serves",
        "It deploys. Then",
    ]:
        assert first_quoted(paragraph, best, *options) == "Commit to the local branch only."
    table = ["Browser Search Assistant", "Chrome 113+ yes yes", "Any other yes no", *options]
    assert first_quoted(*table, near="Chrome") == "Chrome 113+ yes yes"


def test_a_subsection_that_covers_the_question_goes_before_the_section_it_is_in():
    def order(subsection_unit: float) -> list[str]:
        evidence = weigh(*nested_sections(subsection_unit), {})
        return [section.url for section in evidence.sections]

    # Covering the question on its own (0.5 >= MIN_SCORE), the subsection goes first and its
    # section second; a section of another page with the same breadcrumb is no subsection.
    assert order(0.5) == [
        "timeouts/#default",
        "timeouts/#timeouts",
        "retries/#retries",
        "pool/#default",
    ]
    assert order(0.2) == [  # 0.35: it does not cover the question, its score places it
        "timeouts/#timeouts",
        "retries/#retries",
        "pool/#default",
        "timeouts/#default",
    ]


def test_far_sections_do_not_cover_the_question_unless_they_hold_its_words():
    query = np.random.default_rng(1).standard_normal(16)
    vectors = -np.tile(query, (len(cut_units(SERVING)), 1))

    def covers(coverage: float) -> bool:
        candidates = [hit(0, "serve/#serve", SERVING, cosine=0.1, coverage=coverage)]
        return weigh(candidates, query, vectors, {}).covers

    assert not covers(0.0)
    assert not covers(MIN_COVERAGE - 0.01)
    # Far in meaning, but holding most of the question's rare words: a question in the
    # reader's words for what the docs name otherwise, not a stranger.
    assert covers(MIN_COVERAGE)


def test_without_vectors_units_are_scored_by_the_question_words():
    candidates = [hit(0, "deploy/#gh-deploy", DEPLOYING, strength=0.4)]
    weights = {"branch": 2.0, "site": 1.0, "unknown": 1.0}  # idf of the question's terms
    evidence = weigh(candidates, None, None, weights)
    scores = {unit.unit.text[:20]: unit.score for unit in evidence.units}
    assert scores["It builds the site a"] == pytest.approx(0.75)
    assert scores["Run `pagemind gh-dep"] == pytest.approx(0.25)
    assert scores["- `--force` deploys "] == 0
    assert not evidence.weighed
    assert "gh-pages branch" in best_passage(evidence).text


@pytest.fixture(scope="module")
def smollm2_tokenizer() -> tuple[PromptTokenizer, list[int]]:
    model = read_gguf(resolve_model("smollm2-135m-instruct", "generator", REPO))
    return PromptTokenizer(model.tokenizer_spec), model.chat["stop_ids"]


def test_copy_bias_favours_the_sources_words_as_an_answer_writes_them(smollm2_tokenizer):
    tokenizer, stop_ids = smollm2_tokenizer
    tokens = copy_bias_tokens(tokenizer, ["Run `gh-deploy` now."], stop_ids)
    assert set(stop_ids) <= set(tokens)
    assert set(tokenizer.ids("Run `gh-deploy` now.")) <= set(tokens)
    assert set(tokenizer.ids(" gh-deploy")) <= set(tokens)  # as an answer would write it
    assert not set(tokenizer.ids(" heroku")) <= set(tokens)
    bias = dense_bias(tokens, 2.5, 49152)
    assert bias.dtype == np.float32 and np.count_nonzero(bias) == len(tokens)
    assert set(np.unique(bias)) == {0.0, 2.5}


def test_a_garbled_copy_of_a_code_block_is_shown_as_the_docs_write_it():
    nav = '```toml\nnav = [\n  "index.md",\n  { "Guide" = "guide.md" },\n]\n```'
    attributor = Attributor([SERVING, f"List the pages:\n\n{nav}"], "In what order?")
    garbled = nav.replace("guide.md", "guides.md").replace("```toml", "```")
    [claim] = attributor.claims(garbled)
    assert (claim.unit.text, claim.source, claim.reason) == (nav, 2, "")
    assert cited_text([claim]) == f"{nav}\n[2]"
    # Only the brackets in common, or a block not copied from one: held back.
    for block in ("```\nrm -rf /\n]\n```", "```\npagemind serve mydocs --oops\n```"):
        assert attributor.claims(block)[0].reason == CODE_NOT_FOUND
