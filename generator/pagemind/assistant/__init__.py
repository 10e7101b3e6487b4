"""The assistant's answer, step by step (runtime/ holds a module of the same name for each):
evidence.py (sections ranked again by their best sentence), passage.py (the docs' own
words first), prompt.py, copy_bias.py (generation prefers the sources' words), support.py
and attribution.py (every unit of the answer checked and cited), sentences.py (the units
they share); answer.py runs them in the terminal."""


def grounding_settings() -> dict:
    """The constants of those steps, for the runtime (the assistant file's "grounding"), so
    both sides decide with the same values."""
    from pagemind.assistant import attribution, evidence, passage, support

    return {
        "candidate_chunks": evidence.CANDIDATE_CHUNKS,
        "candidate_sections": evidence.CANDIDATE_SECTIONS,
        "min_score": evidence.MIN_SCORE,
        "passage_chars": passage.PASSAGE_CHARS,
        "runner_up_chars": passage.RUNNER_UP_CHARS,
        "code_prior": passage.CODE_PRIOR,
        "label_chars": passage.LABEL_CHARS,
        "support_share": attribution.SUPPORT_SHARE,
        "snap_share": attribution.SNAP_SHARE,
        "function_words": sorted(support.FUNCTION_WORDS),
        "match_prefix": support.MATCH_PREFIX,
        "min_prefix": support.MIN_PREFIX,
    }
