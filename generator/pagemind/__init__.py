"""pagemind: documentation sites whose assistant runs in the reader's browser."""

__version__ = "0.1.0"
