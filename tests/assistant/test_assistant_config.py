"""[assistant] settings out of range stop with an error naming the file, line and key."""

from __future__ import annotations

import pytest
from pagemind.config import load_config
from pagemind.errors import PagemindError

CASES = [
    ("top_k = 0", "assistant.top_k", "between 1 and 20"),
    ("temperature = 3.5", "assistant.temperature", "between 0.0 and 2.0"),
    ("top_p = 0", "assistant.top_p", "between 0.01 and 1.0"),
    ("context_tokens = 10", "assistant.context_tokens", "between 64 and 8192"),
    ("max_new_tokens = 0", "assistant.max_new_tokens", "between 1 and 2048"),
    ("repetition_penalty = 0.5", "assistant.repetition_penalty", "between 1.0 and 2.0"),
    ("copy_span_bias = -1", "assistant.copy_span_bias", "between 0.0 and 10.0"),
    ('system_prompt = "  "', "assistant.system_prompt", "is empty"),
    ('examples = [{ question = "Q?" }]', "assistant.examples", "examples[0]"),
    ('embedder_format = "Q4_0"', "assistant.embedder_format", "'Q8_0' or 'F16' or 'F32'"),
]


@pytest.mark.parametrize(("line", "key", "message"), CASES)
def test_out_of_range_settings_name_the_key(tmp_path, line, key, message):
    (tmp_path / "docs").mkdir()
    text = f'site_name = "x"\n\n[assistant]\nenabled = true\n{line}\n'
    (tmp_path / "pagemind.toml").write_text(text, encoding="utf-8")
    with pytest.raises(PagemindError) as caught:
        load_config(tmp_path)
    assert caught.value.key == key
    assert caught.value.line == 5
    assert message in caught.value.message
    assert caught.value.fix


def test_the_example_site_settings_are_valid():
    from paths import REPO

    assert load_config(REPO / "example_site").assistant.top_k == 2
