"""`pagemind feedback`: the report on readers' exported ratings (a committed export shaped as
runtime/assistant_feedback.js writes it), the report file, and clear errors on bad exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from paths import REPO
from site_helpers import run_cli

EXPORT = REPO / "tests" / "fixtures" / "feedback_export.json"


def test_the_report_groups_questions_and_ranks_sections(capsys, tmp_path):
    # The same browser exported twice: its ratings count once.
    copy = tmp_path / "again.json"
    copy.write_text(EXPORT.read_text(encoding="utf-8"), encoding="utf-8")
    assert run_cli("feedback", EXPORT, copy) == 0
    report = capsys.readouterr().out
    assert "4 rated answers from 2 export(s): 1 helpful (25%), 3 not helpful." in report
    questions = report.split("## Questions rated down")[1].split("##")[0].strip().splitlines()
    assert questions == [
        "- How do I deploy to GitHub Pages? (2 times; from: Deploying \u203a gh-deploy; "
        "Command line \u203a pagemind gh-deploy)",
        r"- Can I use \*my own\* theme? (once; from: no section)",
    ]
    sections = report.split("## Sections behind the answers rated down")[1].strip().splitlines()
    assert sections == [
        "- Deploying \u203a gh-deploy (`guides/deploying/#gh-deploy`): 2 down, 0 up",
        "- Command line \u203a pagemind gh-deploy (`reference/cli/#gh-deploy`): 1 down, 1 up",
    ]
    assert "How do I preview" not in report  # rated up: only counted


def test_the_report_file_is_not_overwritten_without_force(capsys, tmp_path):
    output = tmp_path / "report.md"
    assert run_cli("feedback", EXPORT, "-o", output) == 0
    assert output.read_text(encoding="utf-8").startswith("# What readers' ratings say\n")
    output.write_text("kept", encoding="utf-8")
    assert run_cli("feedback", EXPORT, "-o", output) == 1
    assert f"{output}: the report file exists already" in capsys.readouterr().err
    assert output.read_text(encoding="utf-8") == "kept"
    assert run_cli("feedback", EXPORT, "-o", output, "--force") == 0
    assert "## Questions rated down" in output.read_text(encoding="utf-8")


def broken(entry_change: dict) -> dict:
    data = json.loads(EXPORT.read_text(encoding="utf-8"))
    data["feedback"][1].update(entry_change)
    return data


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"format": "pagemind-feedback/1",\n "feedback": [,]}', ":2: not a JSON file"),
        ({"format": "pagemind-site/1", "feedback": []}, ": format: expected format"),
        (
            {"format": "pagemind-feedback/1", "feedback": {}},
            ": feedback: a list of ratings expected",
        ),
        (broken({"rating": "meh"}), ': feedback[1].rating: "up" or "down" expected'),
        (broken({"question": " "}), ": feedback[1].question: the question's text expected"),
        (broken({"sources": [{"heading": "x"}]}), ": feedback[1].sources[0].url: the section's"),
    ],
)
def test_a_bad_export_is_named_with_its_entry_and_the_fix(capsys, tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    assert run_cli("feedback", EXPORT, bad) == 1
    error = capsys.readouterr().err
    assert f"error: {bad}{expected}" in error
    assert "fix: export the ratings again" in error


def test_a_missing_export_is_named(capsys, tmp_path: Path):
    assert run_cli("feedback", tmp_path / "nowhere.json") == 1
    assert "nowhere.json: No such file or directory" in capsys.readouterr().err
