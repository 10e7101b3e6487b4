"""Small sites for the search index tests, keyword-only unless a test brings an embedder."""

from __future__ import annotations

from pathlib import Path

from pagemind.builder import SiteBuilder
from pagemind.config import load_config

CONFIG = 'site_name = "Search test"\n\n[assistant]\nenabled = false\n'

PAGES = {
    "index.md": "# Home\n\nWelcome to the widget docs.\n",
    "install.md": """# Installing

Intro text before any section.

## On Linux {#linux}

Install the widget with the package manager:

```sh
sudo apt-get install widget
widget --version
```

## On Windows

Download the installer and run it. Reboot afterwards.

### Troubleshooting drivers

If the printer driver fails, reinstall the spooler service.
""",
    "legal.md": "---\nassistant: false\n---\n# Legal\n\n## Licence\n\nThe zorblax licence.\n",
}


def write_site(root: Path, pages: dict[str, str] = PAGES, config: str = CONFIG) -> Path:
    (root / "pagemind.toml").write_text(config, encoding="utf-8")
    for name, text in pages.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def build(root: Path) -> SiteBuilder:
    builder = SiteBuilder(load_config(root))
    builder.build()
    return builder
