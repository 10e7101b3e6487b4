"""The program a site ships for each of its models, and that the checks and `pagemind ask`
run: a decoder compiles to prefill, decode and sample phases (program.py), the embedder to
an embed phase (embedder_program.py)."""

from __future__ import annotations

from pagemind.gpu.embedder_program import compile_embedder
from pagemind.gpu.program import Program, compile_decoder
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.safetensors_source import BertModel

# The decoder program leaves this many best tokens; the browser samples among them.
SAMPLING_CANDIDATES = 40


def compile_program(model: GGUFModel | BertModel) -> Program:
    """The program the site ships for a model (and the checks run)."""
    if isinstance(model, GGUFModel):
        return compile_decoder(model, top_k=SAMPLING_CANDIDATES)
    return compile_embedder(model)
