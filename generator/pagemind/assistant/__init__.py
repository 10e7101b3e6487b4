"""The assistant from the terminal: prompt assembly (prompt.py, mirrored by
runtime/prompt.js) and answering a question over a site's docs (answer.py)."""
