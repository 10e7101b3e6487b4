"""From a docs folder to pages: discovery, Markdown, navigation and links."""
