"""Embedding progress in real builds: log lines when stderr is not a terminal (CI), a bar
when it is."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from pagemind.search_index import embeddings
from site_helpers import run_cli, tiny_assistant_site, write_site

PROGRESS_LINE = re.compile(
    r"^Embedding: (\d+)/(\d+) chunks, [\d.]+ chunks/s, (\d+ min )?\d+ s left$", re.M
)


def many_sections_site(root: Path) -> Path:
    """A site whose sections make several embedding batches."""
    tiny_assistant_site(root)
    sections = "".join(
        f"## Part {n}\n\nThe widget number {n} reads its settings from `widget-{n}.toml`, "
        "then checks each plugin's version and loads the themes it names, in order.\n\n"
        for n in range(40)
    )
    return write_site(root, {"docs/guide.md": f"# Guide\n\n{sections}"})


def test_a_build_without_a_terminal_logs_progress_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "PROGRESS_SECONDS", 0.0)  # a line per batch
    site = many_sections_site(tmp_path)
    assert run_cli("build", site, "--no-check") == 0
    log = capsys.readouterr().err
    progress = [(int(done), int(total)) for done, total, _ in PROGRESS_LINE.findall(log)]
    total = progress[0][1]
    assert len(progress) >= 3, log
    assert [done for done, _ in progress] == sorted({done for done, _ in progress})
    assert all(0 < done < total for done, _ in progress)
    assert re.search(rf"^Embedded {total} chunk\(s\) in [\d.]+ s, [\d.]+ chunks/s$", log, re.M)

    assert run_cli("build", site, "--no-check") == 0  # every vector comes from the cache
    assert "Embedd" not in capsys.readouterr().err


def test_a_build_on_a_terminal_draws_a_bar(tmp_path: Path) -> None:
    site = many_sections_site(tmp_path)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    build = [Path(sys.executable).with_name("pagemind"), "build", site, "--no-check"]
    process = subprocess.Popen(build, stdin=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    output = b""
    while chunk := _read(controller):
        output += chunk
    assert process.wait(timeout=120) == 0
    screen = output.decode()
    assert re.search(r"Embedding: 100%\|[^|]*\| (\d+)/\1 \[", screen), screen
    assert not PROGRESS_LINE.search(screen)


def _read(descriptor: int) -> bytes:
    try:
        return os.read(descriptor, 4096)
    except OSError:  # the build closed the terminal
        return b""
