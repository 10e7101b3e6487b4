"""The runtime under Node on Dawn (the npm `webgpu` package): tests/node/harness.mjs runs a
check written for the browser harness page against runtime/session.js.

The `webgpu` package is installed from tests/node/package-lock.json on first use; without a
GPU, Dawn runs on Chromium's SwiftShader, as the browser tests do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from paths import REPO

NODE_DIR = REPO / "tests" / "node"
SWIFTSHADER_ICD = Path("/usr/lib/chromium/vk_swiftshader_icd.json")


def install_webgpu() -> None:
    """`npm ci` in tests/node unless node_modules already holds what the lock file names."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: install it (apt-get install npm) to run the runtime in Node")
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(command, cwd=NODE_DIR, check=True)


def node_environment() -> dict[str, str]:
    env = dict(os.environ)
    # Without a Vulkan driver of its own, Dawn takes the CPU one Chromium ships.
    if not {"VK_ICD_FILENAMES", "VK_DRIVER_FILES"} & env.keys() and SWIFTSHADER_ICD.exists():
        env["VK_ICD_FILENAMES"] = str(SWIFTSHADER_ICD)
    return env


class NodeRuntime:
    """One Node process running tests/node/harness.mjs for the runtime site at `site_url`;
    globals a check sets (window.rt) stay for the next check, as in a page."""

    def __init__(self, site_url: str) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed (apt-get install nodejs npm)")
        install_webgpu()
        self.process = subprocess.Popen(
            [node, str(NODE_DIR / "harness.mjs"), site_url],
            env=node_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, check: str, data: Any = None) -> Any:
        self.process.stdin.write(json.dumps({"check": check, "data": data}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"node exited with status {self.process.wait()} (stderr above)")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the check failed under Node: {answer['error']}")
        return answer["result"]

    def close(self) -> None:
        self.process.stdin.close()  # the harness frees the GPU and exits
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
