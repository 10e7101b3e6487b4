"""A minimal site for driving the browser runtime: the runtime and shaders where a build puts
them, model packages with their program JSON, and a page exposing `createRuntime`.

Shared by the runtime tests and bench/runtime_speed.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pagemind.gpu.program import Program
from pagemind.gpu.program_format import program_to_dict
from pagemind.models.package import PackagedModel, write_package
from pagemind.resources import resource_dir

# `check`: the source of an async JavaScript function (data) => result, run where
# window.createRuntime() gives the runtime (the harness page, or Node's tests/node/harness.mjs);
# data and result cross as JSON.
RunCheck = Callable[[str, Any], Any]

HARNESS_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>runtime harness</title>
<link rel="icon" href="data:,">
<script type="module">
  import { createRuntime } from "./_pagemind/runtime/index.js";
  window.createRuntime = createRuntime;
  document.title = "ready";
</script>
"""

# Loads a model into a fresh runtime kept as window.rt; returns the progress events seen.
LOAD = """
async (urls) => {
  window.rt = await window.createRuntime();
  const progress = [];
  const info = await window.rt.load(urls, (event) => progress.push(event));
  return {info, progress};
}
"""

# Greedy generation; returns the tokens and the final logits.
GENERATE = """
async ({prompt, settings}) => {
  const streamed = [];
  const result = await window.rt.generate(prompt, settings, (token) => streamed.push(token));
  const logits = Array.from(new Float32Array(await window.rt.debugRead("logits")));
  return {...result, streamed, logits};
}
"""


@dataclass(frozen=True)
class ModelUrls:
    manifestUrl: str  # camelCase: the runtime's JavaScript names
    programUrl: str


def build_runtime_site(root: Path) -> Path:
    """`root` with _pagemind/runtime/, _pagemind/shaders/ and index.html (the harness page)."""
    for folder in ("runtime", "shaders"):
        shutil.copytree(resource_dir(folder), root / "_pagemind" / folder, dirs_exist_ok=True)
    (root / "index.html").write_text(HARNESS_PAGE, encoding="utf-8")
    return root


def add_model(root: Path, model: PackagedModel, program: Program, name: str) -> ModelUrls:
    """Write `model`'s package and program under root/models/<name>/; their page URLs."""
    folder = root / "models" / name
    package = write_package(model, folder, name=name)
    (folder / "program.json").write_text(json.dumps(program_to_dict(program)), encoding="utf-8")
    return ModelUrls(
        manifestUrl=f"models/{name}/{package.manifest_path.name}",
        programUrl=f"models/{name}/program.json",
    )
