"""The reference copy-span bias (pagemind.models.generate.add_copy_span_bias), which the
program's copy_span_bias kernel and the browser follow: the tokens that continue, in the
sources, the longest tail of the answer found there are made likelier, each once."""

from __future__ import annotations

import numpy as np
import pytest
from pagemind.models.generate import (
    ANSWER_START,
    MAX_COPY_SOURCE,
    MAX_SPAN_MATCH,
    SPAN_SEPARATOR,
    CopySpans,
    add_copy_span_bias,
)

END = SPAN_SEPARATOR  # after each text
START = ANSWER_START  # before each opening
VOCAB = 16
STRENGTH = 2.5


def biased_tokens(source: list[int], answer: list[int]) -> list[int]:
    """The tokens add_copy_span_bias raised, each checked to be raised by STRENGTH once."""
    logits = np.linspace(-3, 3, VOCAB, dtype=np.float32)
    biased = add_copy_span_bias(logits, CopySpans(source, STRENGTH), answer)
    raised = np.flatnonzero(biased != logits)
    np.testing.assert_array_equal(biased[raised], logits[raised] + np.float32(STRENGTH))
    return raised.tolist()


def test_the_longest_match_wins_over_shorter_ones():
    # [1, 2, 3] ends before 9; [2, 3] before 8 and [3] before 7 are shorter.
    source = [1, 2, 3, 9, END, 5, 2, 3, 8, END, 3, 7, END]
    assert biased_tokens(source, [6, 1, 2, 3]) == [9]
    assert biased_tokens(source, [6, 2, 3]) == [8, 9]  # two matches of length 2
    assert biased_tokens(source, [3]) == [7, 8, 9]


def test_a_match_compares_at_most_the_answers_last_tokens():
    source = [1, 2, 3, 4, 5, 10, END, 9, 2, 3, 4, 5, 11, END]
    # The answer's last MAX_SPAN_MATCH tokens match both texts: the earlier 1 vs 9 is not read.
    assert MAX_SPAN_MATCH == 4
    assert biased_tokens(source, [1, 2, 3, 4, 5]) == [10, 11]


def test_separators_stop_a_match_and_end_a_text():
    # [4, 2] runs across the separator only: the match of 2 is length 1 everywhere; and the
    # 2 that ends the first text has no following token.
    source = [7, 4, END, 2, 5, END, 3, 2]
    assert biased_tokens(source, [4, 2]) == [5]
    assert biased_tokens([1, 2, END], [2]) == []


def test_a_token_following_several_matches_is_added_once():
    assert biased_tokens([4, 5, 4, 5, 4, 6, END, 4, 5], [4]) == [5, 6]


@pytest.mark.parametrize(("source", "answer"), [([1, 2, 3], []), ([], [1, 2]), ([1, 2], [9])])
def test_an_empty_answer_or_source_or_no_match_adds_nothing(source, answer):
    logits = np.array([-0.0, 1.5, np.inf, -2.0] * 4, np.float32)
    biased = add_copy_span_bias(logits, CopySpans(source, STRENGTH), answer)
    np.testing.assert_array_equal(biased.view(np.uint32), logits.view(np.uint32))


def test_an_answer_about_to_start_is_pushed_to_each_openings_first_token():
    source = [START, 4, 5, END, START, 7, 2, END, 3, 9, END]
    assert biased_tokens(source, []) == [4, 7]


def test_an_answer_that_began_an_opening_goes_on_with_it_until_its_start_is_out_of_reach():
    source = [START, 1, 2, 3, 4, 5, END, 1, 2, 3, 4, 6, END, 2, 7, END]
    assert biased_tokens(source, [1]) == [2]  # [start, 1] beats [1]
    assert biased_tokens(source, [1, 2, 3]) == [4]  # [start, 1, 2, 3]: four tokens
    assert biased_tokens(source, [1, 2, 3, 4]) == [5, 6]  # only the last four are compared
    assert biased_tokens(source, [9, 2]) == [3, 7]  # an opening's middle is a text like any


def test_the_source_is_read_up_to_max_copy_source_ids():
    filler = [0] * (MAX_COPY_SOURCE - 2)
    assert biased_tokens([*filler, 1, 2], [1]) == [2]
    assert biased_tokens([*filler, 3, 1, 2], [1]) == []  # 2 is past the limit


def test_the_callers_logits_stay_as_they_were():
    logits = np.zeros(VOCAB, np.float32)
    add_copy_span_bias(logits, CopySpans([1, 2], STRENGTH), [1])
    assert not logits.any()
