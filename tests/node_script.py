"""An ES module script run under Node, JSON in on stdin and out on stdout: how the parity
tests run runtime/*.js on the inputs Python decides on."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest


def run_module(script: str, data: Any, *argv: str) -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    output = subprocess.run(
        [node, "--input-type=module", "-e", script, *argv],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)
