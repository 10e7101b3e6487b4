"""A plain `pip install .` carries the theme, runtime and shaders: the wheel alone builds sites."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from paths import REPO
from site_helpers import write_site


def test_wheel_ships_its_resources_and_builds_a_site(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, REPO],
        check=True,
    )
    [wheel] = tmp_path.glob("pagemind-*.whl")
    installed = tmp_path / "installed"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(installed)
    for folder in ("runtime", "shaders", "site_templates"):
        shipped = {
            p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*") if p.is_file()
        }
        assert {f"pagemind/{name}" for name in shipped} <= names, folder

    site = write_site(
        tmp_path / "docs-site", {"pagemind.toml": 'site_name = "W"\n', "docs/index.md": "# Hi\n"}
    )
    # The unpacked wheel comes first on the path, so its package (not the checkout's) runs.
    env = {**os.environ, "PYTHONPATH": str(installed)}
    code = (
        "import pagemind, sys; print(pagemind.__file__); sys.exit(pagemind.cli.main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import pagemind.cli; {code}", "build", site, "-q", "--no-check"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith(str(installed))
    assert (site / "site" / "index.html").is_file()
    assert list((site / "site" / "_pagemind" / "theme").glob("style.*.css"))
