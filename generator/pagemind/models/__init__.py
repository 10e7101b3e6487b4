"""Model readers, numpy reference implementations, tokenizers and packaging."""
