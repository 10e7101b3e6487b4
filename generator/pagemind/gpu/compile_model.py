"""The program a site ships for each of its models, and that the checks and `pagemind ask`
run: a decoder compiles to prefill, decode and sample phases (program.py), the embedder to
an embed phase (embedder_program.py)."""

from __future__ import annotations

from collections.abc import Mapping

from pagemind.gpu.embedder_program import compile_embedder
from pagemind.gpu.program import Program, compile_decoder
from pagemind.models.gguf_source import GGUFModel
from pagemind.models.safetensors_source import BertModel

# The decoder program leaves this many best tokens; the browser samples among them.
SAMPLING_CANDIDATES = 40


def compile_program(
    model: GGUFModel | BertModel, adapter_ranks: Mapping[str, int] | None = None
) -> Program:
    """The program the site ships for a model (and the checks run); a decoder with adapter
    steps at `adapter_ranks` (adapters.adapter_ranks of the site's adapters)."""
    if isinstance(model, GGUFModel):
        return compile_decoder(model, top_k=SAMPLING_CANDIDATES, adapter_ranks=adapter_ranks)
    return compile_embedder(model)
