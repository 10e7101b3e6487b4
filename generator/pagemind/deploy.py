"""Commit a built site to a branch (gh-pages) and push it, with git plumbing only.

The commit is assembled from the output folder in a temporary index file, so the
author's working tree, index and checked-out branch are never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pagemind.errors import PagemindError

HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
IDENTITY_FIX = 'git config user.name "Your Name" && git config user.email you@example.com'


@dataclass(frozen=True)
class DeployTarget:
    """Where a site goes: a branch, the remote it is pushed to, and its custom domain.

    `cname` None keeps the GitHub Pages address, or the domain in docs_dir's CNAME file.
    """

    branch: str = "gh-pages"
    remote: str = "origin"
    push: bool = True
    cname: str | None = None


def check_can_deploy(
    repo: GitRepository, target: DeployTarget, *, outputs: list[Path], allow_uncommitted: bool
) -> None:
    """Refuses early (before a long build) what would fail or deploy the wrong thing.
    outputs: what builds write (site_dir, the build cache), never counted as changes."""
    if target.cname is not None and not HOST_NAME.fullmatch(target.cname):
        raise PagemindError(
            f"{target.cname!r} is not a domain name",
            key="--cname",
            fix="give the bare domain, without scheme or path: --cname docs.example.com",
        )
    if repo.current_branch() == target.branch:
        raise PagemindError(
            f"the checked-out branch is {target.branch!r}, the branch the site is deployed to",
            key="--remote-branch",
            fix="switch to the branch holding your sources (git switch main) and deploy from there",
        )
    if target.push:
        repo.check_remote(target.remote)
    changes = repo.uncommitted_changes(ignored=outputs)
    if changes and not allow_uncommitted:
        listing = "\n  ".join(changes[:10] + (["..."] if len(changes) > 10 else []))
        raise PagemindError(
            f"{repo.folder} has uncommitted changes, so the deployed site would match no "
            f"commit:\n  {listing}",
            fix="commit (or stash) them first, or deploy anyway with --force",
        )


def add_github_pages_files(site_dir: Path, cname: str | None) -> None:
    """`.nojekyll` (serve `_pagemind/` as it is) and `CNAME` for a custom domain.

    Without `cname`, a CNAME file in docs_dir has already been copied into the site.
    """
    (site_dir / ".nojekyll").write_bytes(b"")
    if cname is not None:
        (site_dir / "CNAME").write_text(cname + "\n")


def publish(repo: GitRepository, site_dir: Path, target: DeployTarget, message: str) -> str:
    """Commits `site_dir` on top of the branch's last deploy, moves the branch, pushes it."""
    branch_ref = f"refs/heads/{target.branch}"
    if target.push:
        repo.fetch_branch(target.remote, target.branch)
    local = repo.tip(branch_ref)
    parent = latest_deploy(repo, local, repo.tip(f"refs/remotes/{target.remote}/{target.branch}"))
    commit = repo.commit_folder(site_dir, parent, message)
    # The old value makes the move fail, rather than lose a commit, if the branch moved meanwhile.
    repo.git("update-ref", "-m", "pagemind gh-deploy", branch_ref, commit, local or "")
    if target.push:
        repo.git(
            "push",
            "--quiet",
            target.remote,
            f"{branch_ref}:{branch_ref}",
            fix=f"check that you may push to {target.remote!r}; if someone deployed meanwhile, "
            "run gh-deploy again",
        )
    return commit


def latest_deploy(repo: GitRepository, local: str | None, remote: str | None) -> str | None:
    """The tip to build on: the local branch if it is ahead, else the published one."""
    if local is None or remote is None:
        return local or remote
    return local if repo.succeeds("merge-base", "--is-ancestor", remote, local) else remote


class GitRepository:
    """The git repository holding a site's sources."""

    def __init__(self, folder: Path) -> None:
        """`folder` is any folder inside the repository; git commands run there."""
        self.folder = folder
        try:
            done = self._run("rev-parse", "--show-toplevel")
        except FileNotFoundError:
            raise PagemindError("git is not installed", fix="install git, then try again") from None
        if done.returncode != 0:
            raise PagemindError(
                f"{folder} is not inside a git repository",
                fix="put the site under git first: git init && git add -A && git commit -m "
                '"First commit" && git remote add origin <URL of your GitHub repository>',
            )

    def git(
        self,
        *args: str,
        fix: str | None = None,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Runs git and returns its output, or raises a PagemindError with git's message."""
        done = self._run(*args, stdin=stdin, env=env)
        if done.returncode != 0:
            raise PagemindError(
                f"`git {' '.join(args)}` failed: {done.stderr.decode(errors='replace').strip()}",
                fix=fix,
            )
        return done.stdout.decode(errors="replace").strip()

    def succeeds(self, *args: str) -> bool:
        return self._run(*args).returncode == 0

    def _run(
        self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", *args],
            cwd=self.folder,
            input=stdin,
            capture_output=True,
            env=None if env is None else {**os.environ, **env},
            check=False,
        )

    def answer(self, *args: str) -> str | None:
        """Git's output for a question it may answer "none" to (by failing)."""
        done = self._run(*args)
        return done.stdout.decode().strip() if done.returncode == 0 else None

    def current_branch(self) -> str | None:
        """The checked-out branch; None when HEAD is detached."""
        return self.answer("symbolic-ref", "--quiet", "--short", "HEAD")

    def source_revision(self) -> str | None:
        """The short hash of HEAD; None before the first commit."""
        return self.answer("rev-parse", "--short", "--verify", "--quiet", "HEAD")

    def uncommitted_changes(self, ignored: list[Path]) -> list[str]:
        """`git status` lines for this folder's changes and untracked files, except those
        under the `ignored` paths."""
        pathspecs = ["."]
        for path in ignored:
            if path.is_relative_to(self.folder):
                pathspecs.append(f":(exclude){path.relative_to(self.folder).as_posix()}")
        status = self.git("status", "--porcelain", "--untracked-files=all", "--", *pathspecs)
        return status.splitlines()

    def check_remote(self, remote: str) -> None:
        if remote not in self.git("remote").split():
            raise PagemindError(
                f"this repository has no git remote named {remote!r}",
                key="--remote-name",
                fix=f"add it (git remote add {remote} <URL>), name another with "
                "--remote-name, or deploy locally only with --no-push",
            )

    def tip(self, ref: str) -> str | None:
        return self.answer("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")

    def fetch_branch(self, remote: str, branch: str) -> None:
        """Updates the remote-tracking ref of `branch`, if the remote has that branch."""
        if self.succeeds("ls-remote", "--exit-code", "--heads", remote, branch):
            tracking = f"refs/remotes/{remote}/{branch}"
            self.git("fetch", "--quiet", remote, f"+refs/heads/{branch}:{tracking}")

    def commit_folder(self, folder: Path, parent: str | None, message: str) -> str:
        """A commit whose tree is exactly `folder`'s files, on top of `parent`."""
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        names = "".join(f"{path}\n" for path in files).encode()
        # --no-filters: the site's bytes go in as they are, whatever .gitattributes says.
        hashes = self.git("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=names)
        index_lines = [
            f"{file_mode(path)} {blob}\t{path.relative_to(folder).as_posix()}\0"
            for path, blob in zip(files, hashes.split(), strict=True)
        ]
        with tempfile.TemporaryDirectory(prefix="pagemind-deploy-") as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            listing = "".join(index_lines).encode()
            self.git("update-index", "-z", "--add", "--index-info", stdin=listing, env=index)
            tree = self.git("write-tree", env=index)
        parents = ["-p", parent] if parent else []
        return self.git("commit-tree", tree, *parents, "-m", message, fix=IDENTITY_FIX)


def file_mode(path: Path) -> str:
    return "100755" if os.access(path, os.X_OK) else "100644"
