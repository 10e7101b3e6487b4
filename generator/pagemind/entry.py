"""The site's entry file, `_pagemind/site.json`: the one stable URL every page names.

It points to this build's content-hashed files (the assistant's settings, the search index),
so a rebuild that changes them rewrites this small file, not every page, and a reader's
cache can keep everything else forever. `version` changes whenever anything it names does:
the page compares it to tell that a new build is live.

    {"format": "pagemind-site/1", "version": "<hash>",
     "assistant": "assistant.<hash>.json" | null,    relative to _pagemind/
     "index": {...} | null}                           see pagemind.search_index
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ENTRY_FORMAT = "pagemind-site/1"
ENTRY_PATH = "_pagemind/site.json"  # site-relative
RUNTIME_OUTPUT = "_pagemind/runtime"


def entry_json(assistant: str | None, index: dict | None) -> bytes:
    """assistant: the site-relative path of assistant.<hash>.json (see pagemind.bundle)."""
    named = {
        "assistant": assistant.removeprefix("_pagemind/") if assistant else None,
        "index": index,
    }
    version = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:16]
    return json.dumps({"format": ENTRY_FORMAT, "version": version, **named}, indent=1).encode()


def runtime_files(runtime_dir: Path) -> dict[str, bytes]:
    """The browser runtime's ES modules, site-relative path -> bytes. Every page loads
    page.js from here (search works even when the assistant is off)."""
    return {
        f"{RUNTIME_OUTPUT}/{path.name}": path.read_bytes()
        for path in sorted(runtime_dir.glob("*.js"))
    }
