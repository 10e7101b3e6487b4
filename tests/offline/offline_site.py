"""pagemind's own docs with the tiny test generator, built for a GitHub project page under
/repo/: the site the offline tests and bench/offline_bytes.py serve."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from pagemind.commands.build import build_site
from pagemind.config import load_config
from pagemind.models.tiny_model import tiny_llama_gguf

BASE = "/repo/"
SITE_MODEL = 'model = "smollm2-135m-instruct"'


def copy_site(site: Path, target: Path, tiny: bool = True) -> Path:
    """A copy of `site`'s sources; `tiny`: with a tiny random generator in place of SmolLM2
    (fast in SwiftShader)."""
    shutil.copytree(site, target, ignore=shutil.ignore_patterns("site", ".pagemind-cache"))
    if tiny:
        tiny_llama_gguf(target / "tiny.gguf")
        config = target / "pagemind.toml"
        text = config.read_text(encoding="utf-8")
        assert SITE_MODEL in text, f"{config} names another generator"
        config.write_text(text.replace(SITE_MODEL, 'model = "tiny.gguf"'), encoding="utf-8")
    return target


def build(root: Path) -> Path:
    """`pagemind build --base-url /repo/ --no-check`; returns the output folder."""
    config = load_config(root, site_url=BASE)
    build_site(config, check=False)
    return config.site_dir


def service_worker_build(output: Path) -> dict:
    """The BUILD object the build injected into sw.js."""
    code = (output / "sw.js").read_text(encoding="utf-8")
    return json.loads(re.search(r"^const BUILD = (\{.*\});$", code, re.MULTILINE)[1])
