"""`pagemind gh-deploy` with real git: an author's repository and a bare remote in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pagemind import __version__
from pagemind.cli import main
from pagemind.config import CACHE_FOLDER

CONFIG = """\
site_name = "Deploy test"
site_url = "https://docs.example.org/"

[assistant]
enabled = false
"""


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration leaks in; commits get a fixed identity."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Docs Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "author@example.org")


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    return bare


@pytest.fixture
def author(tmp_path: Path, remote: Path) -> Path:
    """A committed site whose repository has the bare remote as origin."""
    root = tmp_path / "author"
    (root / "docs").mkdir(parents=True)
    (root / "pagemind.toml").write_text(CONFIG)
    (root / "docs" / "index.md").write_text("# Home\n\nFirst edition.\n")
    (root / "docs" / "CNAME").write_text("docs.example.org\n")
    git(root, "init", "--quiet", "--initial-branch", "main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "Write the docs")
    git(root, "remote", "add", "origin", str(remote))
    return root


def sources_state(root: Path) -> dict[str, object]:
    """Everything of the author's that gh-deploy must leave alone (pagemind's own build
    cache, .pagemind-cache/, aside)."""
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and not {".git", CACHE_FOLDER} & set(path.relative_to(root).parts)
    }
    status = git(root, "status", "--porcelain", "--untracked-files=all", "--", ".",
                 f":(exclude){CACHE_FOLDER}")  # fmt: skip
    return {
        "HEAD": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "index": git(root, "ls-files", "--stage"),
        "status": status,
        "files": files,
    }


def deployed_files(remote: Path) -> list[str]:
    return git(remote, "ls-tree", "-r", "--name-only", "gh-pages").splitlines()


def test_deploy_publishes_the_site_and_leaves_the_sources_alone(author: Path, remote: Path) -> None:
    before = sources_state(author)

    assert main(["gh-deploy", str(author)]) == 0

    assert sources_state(author) == before
    files = deployed_files(remote)
    assert {"index.html", "404.html", ".nojekyll", "CNAME"} <= set(files)
    assert git(remote, "show", "gh-pages:CNAME") == "docs.example.org"
    assert "First edition." in git(remote, "show", "gh-pages:index.html")
    source = git(author, "rev-parse", "--short", "HEAD")
    message = git(remote, "log", "-1", "--format=%s", "gh-pages")
    assert message == f"Deployed {source} with pagemind {__version__}"


def test_a_second_deploy_adds_a_commit_on_top_of_the_first(author: Path, remote: Path) -> None:
    assert main(["gh-deploy", str(author)]) == 0
    first = git(remote, "rev-parse", "gh-pages")
    (author / "docs" / "index.md").write_text("# Home\n\nSecond edition.\n")
    git(author, "commit", "--quiet", "-am", "Revise the docs")

    assert main(["gh-deploy", str(author), "--cname", "www.example.org", "-m", "Ship it"]) == 0

    assert git(remote, "rev-parse", "gh-pages^") == first
    assert git(remote, "log", "-1", "--format=%s", "gh-pages") == "Ship it"
    assert "Second edition." in git(remote, "show", "gh-pages:index.html")
    assert git(remote, "show", "gh-pages:CNAME") == "www.example.org"


def test_deploys_from_two_clones_keep_one_history(
    author: Path, remote: Path, tmp_path: Path
) -> None:
    git(author, "push", "--quiet", "origin", "main")
    assert main(["gh-deploy", str(author)]) == 0
    teammate = tmp_path / "teammate"
    git(tmp_path, "clone", "--quiet", "--branch", "main", str(remote), str(teammate))
    assert main(["gh-deploy", str(teammate)]) == 0
    teammates_deploy = git(remote, "rev-parse", "gh-pages")

    # The author's local gh-pages is now behind the remote's: the deploy builds on the remote.
    assert main(["gh-deploy", str(author)]) == 0
    assert git(remote, "rev-parse", "gh-pages^") == teammates_deploy
    assert git(remote, "rev-list", "--count", "gh-pages") == "3"


def test_uncommitted_changes_are_refused_unless_forced(
    author: Path, remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (author / "docs" / "index.md").write_text("# Home\n\nNot committed yet.\n")
    # The author's own build output is not a change to the sources.
    (author / "site").mkdir()
    (author / "site" / "index.html").write_text("<p>old build</p>")

    assert main(["gh-deploy", str(author)]) == 1
    error = capsys.readouterr().err
    assert "uncommitted changes" in error and "docs/index.md" in error
    assert "--force" in error and "site/" not in error
    assert git(remote, "branch", "--list") == ""

    assert main(["gh-deploy", str(author), "--force"]) == 0
    assert "Not committed yet." in git(remote, "show", "gh-pages:index.html")


def test_no_push_commits_to_the_local_branch_only(author: Path, remote: Path) -> None:
    assert main(["gh-deploy", str(author), "--no-push", "-r", "nowhere"]) == 0
    assert "index.html" in git(author, "ls-tree", "--name-only", "gh-pages").splitlines()
    assert git(remote, "branch", "--list") == ""


REFUSALS = {
    "missing remote": (
        ["--remote-name", "upstream"],
        ["no git remote named 'upstream'", "git remote add upstream"],
    ),
    "URL as domain": (
        ["--cname", "https://docs.example.org/"],
        ["--cname", "not a domain name", "--cname docs.example.com"],
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS, ids=list(REFUSALS))
def test_bad_options_are_refused_with_the_fix(
    author: Path, remote: Path, capsys: pytest.CaptureFixture[str], refusal: str
) -> None:
    options, expected = REFUSALS[refusal]
    assert main(["gh-deploy", str(author), *options]) == 1
    error = capsys.readouterr().err
    assert all(text in error for text in expected), error
    assert git(remote, "branch", "--list") == ""


def test_a_folder_outside_git_is_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "plain"
    (root / "docs").mkdir(parents=True)
    (root / "pagemind.toml").write_text(CONFIG)
    (root / "docs" / "index.md").write_text("# Home\n")

    assert main(["gh-deploy", str(root)]) == 1
    error = capsys.readouterr().err
    assert "is not inside a git repository" in error and "git init" in error
