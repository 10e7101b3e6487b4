"""A small random decoder written as a real GGUF file, in the formats of the default model,
and a random BERT encoder written as a real sentence-transformers folder.

Tests (reader, reference, kernels, browser) run them in milliseconds, and benchmarks
build them with the default models' shapes: speed does not depend on the values. A scripted
decoder (scripted_llama_gguf) answers every chat prompt with a text fixed in advance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from numpy.typing import ArrayLike
from safetensors.numpy import save_file

from pagemind.models.architectures import ARCHITECTURES, HEAD_NORMS, POST_NORMS, ROPE_FACTORS
from pagemind.models.bpe import BYTE_TO_CHARACTER
from pagemind.models.k_quants import q4_k_m_format
from pagemind.models.safetensors_source import BertConfig, bert_tensor_shapes
from pagemind.models.spm import BYTE, CONTROL, NORMAL, SPACE, UNKNOWN, UNUSED
from pagemind.models.tensors import QuantTensor

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Gemma 3's own template (its instruct models' tokenizer_config.json): the system message
# opens the first user turn; a message's content may be a string or a list of parts.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    '    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate '
    'user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    '        {%- set role = "model" -%}\n'
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    '        {{ raise_exception("Invalid content type") }}\n'
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n"
)
ROPE_THETA = 10000.0
# Llama 3's rope scaling with a short original context, so that a short prompt feels it.
LLAMA3_ROPE_SCALING = {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 32,
}
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
BERT_WORDS = ("the", "docs", "##s", "a")
_FLOAT_TYPES = {"F32": np.float32, "F16": np.float16}
MERGES = ("Ġ t", "h e", "Ġt he", "i n", "e r", "Ġ a", "o n", "r e", "Ġ s", "e d")
# A scripted model's logit for the next token of its script; the others stay near 60 at
# most, even with thousands of pieces.
SCRIPT_LOGIT = 100.0
BASE_TOKENS = (
    *SPECIAL_TOKENS,
    *BYTE_TO_CHARACTER,
    *(merge.replace(" ", "") for merge in MERGES),
)
# A SentencePiece vocabulary laid out as Gemma's: pad, eos, bos, unk, the turn markers, the
# 256 byte pieces, then pieces by falling score (letters, then merged pieces).
SPM_SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>")
SPM_PIECES = (
    SPACE,
    "\n",
    *"etaoinshrdlucmfwypvbgkqjxz.,?:[]",
    *(piece.replace(" ", SPACE) for piece in (" t", "he", " the", "in", "er", " a", "on", " s")),
)


def tiny_llama_gguf(
    path: Path,
    *,
    architecture: str = "llama",
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = 320,
    matrix_format: str = "Q4_1",
    tied_embeddings: bool = True,
    head_dim: int | None = None,
    rope_theta: float = ROPE_THETA,
    rope_scaling: Mapping[str, float] | None = None,
    sliding_window: int = 4,
    seed: int = 0,
    omit: Collection[str] = (),
    extra_tokens: Sequence[str] = (),
    values: Mapping[str, ArrayLike] | None = None,
    tokenizer: str = "bpe",
) -> Path:
    """Write a random model: Q8_0 token embedding, `matrix_format` block matrices, F32
    norms (and F32 Q/K/V biases for qwen2, F32 Q/K head norms for qwen3), an F16 output head
    when not tied; gemma3 adds F32 norms of the attention and FFN outputs, and its local
    layers see `sliding_window` positions. `head_dim` (default hidden_size / num_heads) is
    written as attention.key_length; `rope_scaling` (Llama 3's factor, low_freq_factor,
    high_freq_factor, original_max_position_embeddings) as the rope_freqs.weight that
    llama.cpp's converter computes from it.

    `matrix_format` "Q4_K_M" mixes Q4_K and Q6_K as llama-quantize's Q4_K_M does
    (k_quants.q4_k_m_format). `omit` names tensors to leave out, to make a damaged model.
    `extra_tokens` (in GPT-2's byte alphabet) follow the merged tokens in the vocabulary;
    `values` replaces the random values of the tensors it names (broadcast to their shapes:
    0.0 makes a zero matrix). `tokenizer` "spm" writes a SentencePiece vocabulary and chat
    template as Gemma 3's files have them (_write_spm_vocabulary) instead of byte-level BPE.
    """
    rng = np.random.default_rng(seed)
    writer = GGUFWriter(path, architecture)
    writer.add_block_count(num_layers)
    writer.add_context_length(2048)
    writer.add_embedding_length(hidden_size)
    writer.add_feed_forward_length(intermediate_size)
    writer.add_head_count(num_heads)
    writer.add_head_count_kv(num_kv_heads)
    writer.add_rope_freq_base(rope_theta)
    writer.add_layer_norm_rms_eps(1e-5)
    if tokenizer == "spm":
        _write_spm_vocabulary(writer, vocab_size)
    else:
        _write_bpe_vocabulary(writer, vocab_size, extra_tokens)

    def add(name: str, shape: tuple[int, ...], tensor_format: str, scale: float = 0.1) -> None:
        # Drawn even when omitted or given, so the other tensors keep their values.
        drawn = rng.standard_normal(shape).astype(np.float32) * scale
        if name not in omit:
            given = np.broadcast_to((values or {}).get(name, drawn), shape)
            if tensor_format == "Q4_K_M":  # llama.cpp's mix of formats, matrix by matrix
                tensor_format = q4_k_m_format(name, shape[-1], num_layers)
            _add_tensor(writer, QuantTensor.from_array(name, given, tensor_format))

    # An architecture the reader refuses (a test's) gets the plain Llama block.
    traits = ARCHITECTURES.get(architecture, ARCHITECTURES["llama"])
    if traits.gemma:
        writer.add_sliding_window(sliding_window)
    head_dim = head_dim or hidden_size // num_heads
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    q_size, kv_size = num_heads * head_dim, num_kv_heads * head_dim
    if rope_scaling:
        factors = llama3_rope_factors(head_dim, rope_theta, rope_scaling)
        _add_tensor(writer, QuantTensor.from_array(ROPE_FACTORS, factors, "F32"))
    add("token_embd.weight", (vocab_size, hidden_size), "Q8_0", scale=1.0)
    for block in range(num_layers):
        prefix = f"blk.{block}."
        add(prefix + "attn_norm.weight", (hidden_size,), "F32", scale=1.0)
        add(prefix + "attn_q.weight", (q_size, hidden_size), matrix_format)
        add(prefix + "attn_k.weight", (kv_size, hidden_size), matrix_format)
        add(prefix + "attn_v.weight", (kv_size, hidden_size), matrix_format)
        if architecture == "qwen2":
            for name, size in (("attn_q", q_size), ("attn_k", kv_size), ("attn_v", kv_size)):
                add(prefix + name + ".bias", (size,), "F32")
        if traits.qk_norm:
            for name in HEAD_NORMS:
                add(f"{prefix}{name}.weight", (head_dim,), "F32", scale=1.0)
        add(prefix + "attn_output.weight", (hidden_size, q_size), matrix_format)
        add(prefix + "ffn_norm.weight", (hidden_size,), "F32", scale=1.0)
        add(prefix + "ffn_gate.weight", (intermediate_size, hidden_size), matrix_format)
        add(prefix + "ffn_up.weight", (intermediate_size, hidden_size), matrix_format)
        add(prefix + "ffn_down.weight", (hidden_size, intermediate_size), matrix_format)
        if traits.gemma:
            for name in POST_NORMS:
                add(f"{prefix}{name}.weight", (hidden_size,), "F32", scale=1.0)
    add("output_norm.weight", (hidden_size,), "F32", scale=1.0)
    if not tied_embeddings:
        add("output.weight", (vocab_size, hidden_size), "F16")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def llama3_rope_factors(head_dim: int, theta: float, scaling: Mapping[str, float]) -> np.ndarray:
    """The divisor of each pair's rope frequency for Llama 3's scaling, as llama.cpp's
    converter computes rope_freqs.weight: short wavelengths keep their frequency, long ones
    are slowed `factor` times, those between are blended."""
    factor, old_context = scaling["factor"], scaling["original_max_position_embeddings"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    wavelengths = 2 * np.pi * theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    smooth = np.clip((old_context / wavelengths - low) / (high - low), 0.0, 1.0)
    return (1 / ((1 - smooth) / factor + smooth)).astype(np.float32)


def scripted_llama_gguf(path: Path, script: str, *, seed: int = 0) -> Path:
    """Write a model that answers every chat prompt with `script`: after any prompt ending in
    the chat template's generation prompt it writes `script`, then <|im_end|>, greedily or
    sampled, each token ahead of all others by tens of logits (SCRIPT_LOGIT).

    A bigram model, in tiny_llama_gguf's formats: with the attention output and FFN down
    projections zero, a position's hidden state is its own token's embedding, so the output
    head alone picks the next token. The script gets tokens of its own (_script_pieces),
    chained from the generation prompt's last token (its newline) through them to
    <|im_end|>: each token's head row is its predecessor's embedding direction, nearly
    orthogonal to the other embeddings (random, of 64 values).
    """
    pieces = _script_pieces(script)
    vocab_size, hidden_size, num_layers = len(BASE_TOKENS) + len(pieces), 64, 2
    chain = [BASE_TOKENS.index(BYTE_TO_CHARACTER[ord("\n")])]
    chain += [*range(len(BASE_TOKENS), vocab_size), SPECIAL_TOKENS.index("<|im_end|>")]
    embedding = np.random.default_rng(seed).standard_normal((vocab_size, hidden_size))
    previous = embedding[chain[:-1]]
    # The output norm (weights 1) scales a hidden state to length sqrt(hidden_size): the
    # successor's logit is then SCRIPT_LOGIT.
    direction = previous / np.linalg.norm(previous, axis=1, keepdims=True) / np.sqrt(hidden_size)
    head = np.zeros_like(embedding)
    head[chain[1:]] = SCRIPT_LOGIT * direction
    values: dict[str, ArrayLike] = {
        "token_embd.weight": embedding,
        "output.weight": head,
        "output_norm.weight": 1.0,
    }
    for block in range(num_layers):
        values[f"blk.{block}.attn_output.weight"] = values[f"blk.{block}.ffn_down.weight"] = 0.0
    return tiny_llama_gguf(
        path,
        hidden_size=hidden_size,
        num_layers=num_layers,
        vocab_size=vocab_size,
        tied_embeddings=False,
        seed=seed,
        extra_tokens=pieces,
        values=values,
    )


def _script_pieces(script: str) -> list[str]:
    """`script` cut at word starts into tokens (in GPT-2's byte alphabet) that are new to the
    vocabulary and to each other, so that each has one successor: a word joins the next
    while the piece it ends is a token already, and a tail that is still one joins the last
    piece. Pieces are whole UTF-8 text: a token-by-token stream never shows half a letter."""
    taken = set(BASE_TOKENS)
    pieces: list[str] = []
    piece = ""
    for word in re.findall(r"\s*\S+|\s+", script):
        piece += "".join(BYTE_TO_CHARACTER[byte] for byte in word.encode("utf-8"))
        if piece not in taken:
            pieces.append(piece)
            taken.add(piece)
            piece = ""
    if piece and not pieces:
        raise ValueError(f"the script {script!r} is a token of the vocabulary already")
    if piece:
        pieces[-1] += piece
    return pieces


def _write_bpe_vocabulary(writer: GGUFWriter, size: int, extra: Sequence[str]) -> None:
    tokens, token_types = _vocabulary(size, extra)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(list(MERGES))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)


def _write_spm_vocabulary(writer: GGUFWriter, size: int) -> None:
    """SPM_SPECIAL_TOKENS (control, <unk> unknown), byte pieces, SPM_PIECES scored from -1
    down, then unused fillers; BOS added by the tokenizer, no space prefix, Gemma's template."""
    pieces = [*SPM_SPECIAL_TOKENS, *(f"<0x{byte:02X}>" for byte in range(256)), *SPM_PIECES]
    if size < len(pieces):
        raise ValueError(f"vocab_size must be at least {len(pieces)}")
    fillers = size - len(pieces)
    types = [UNKNOWN if piece == "<unk>" else CONTROL for piece in SPM_SPECIAL_TOKENS]
    types += [BYTE] * 256 + [NORMAL] * len(SPM_PIECES) + [UNUSED] * fillers
    scores = [0.0] * (len(SPM_SPECIAL_TOKENS) + 256) + [-1.0 - i for i in range(len(SPM_PIECES))]
    writer.add_tokenizer_model("llama")
    writer.add_token_list([*pieces, *(f"<unused{index}>" for index in range(fillers))])
    writer.add_token_scores([*scores, *[0.0] * fillers])
    writer.add_token_types(types)
    writer.add_pad_token_id(SPM_SPECIAL_TOKENS.index("<pad>"))
    writer.add_eos_token_id(SPM_SPECIAL_TOKENS.index("<eos>"))
    writer.add_bos_token_id(SPM_SPECIAL_TOKENS.index("<bos>"))
    writer.add_unk_token_id(SPM_SPECIAL_TOKENS.index("<unk>"))
    writer.add_add_bos_token(True)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(GEMMA3_TEMPLATE)


def _vocabulary(size: int, extra: Sequence[str] = ()) -> tuple[list[str], list[int]]:
    """Special tokens, every byte (GPT-2's byte alphabet), the merged tokens, `extra`, then
    fillers."""
    tokens = [*BASE_TOKENS, *extra]
    if size < len(tokens):
        raise ValueError(f"vocab_size must be at least {len(tokens)}")
    tokens += [f"<unused{index}>" for index in range(size - len(tokens))]
    control, normal = 3, 1
    return tokens, [control if token in SPECIAL_TOKENS else normal for token in tokens]


def _add_tensor(writer: GGUFWriter, tensor: QuantTensor) -> None:
    if tensor.format in _FLOAT_TYPES:
        values = tensor.data.view(_FLOAT_TYPES[tensor.format]).reshape(tensor.shape)
        writer.add_tensor(tensor.name, values)
        return
    # Quantized tensors go in as their bytes, one row of blocks per output row.
    rows = tensor.data.reshape(*tensor.shape[:-1], -1)
    writer.add_tensor(tensor.name, rows, raw_dtype=GGMLQuantizationType[tensor.format])


def random_bert_folder(
    folder: Path,
    *,
    vocab_size: int = 8,
    hidden: int = 8,
    layers: int = 1,
    heads: int = 2,
    intermediate: int = 16,
    positions: int = 16,
    max_seq_length: int = 12,
    seed: int = 0,
) -> Path:
    """A complete BERT folder (config, WordPiece tokenizer, pooling, float32 weights) with
    random weights; the vocabulary holds the special tokens, a few words and filler pieces."""
    folder.mkdir(parents=True)
    vocab = [*BERT_SPECIAL_TOKENS, *BERT_WORDS][:vocab_size]
    vocab += [f"w{index}" for index in range(vocab_size - len(vocab))]
    config = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "max_position_embeddings": positions,
    }
    tokenizer = {
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": _ids(vocab)},
        "normalizer": {"type": "BertNormalizer", "lowercase": True},
        "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 2], "sep": ["[SEP]", 3]},
        "added_tokens": [{"content": token} for token in BERT_SPECIAL_TOKENS],
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    sentence_config = json.dumps({"max_seq_length": max_seq_length})
    (folder / "sentence_bert_config.json").write_text(sentence_config, encoding="utf-8")
    (folder / "1_Pooling").mkdir()
    pooling = '{"pooling_mode_mean_tokens": true}'
    (folder / "1_Pooling" / "config.json").write_text(pooling, encoding="utf-8")
    shapes = bert_tensor_shapes(
        BertConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            num_layers=layers,
            num_heads=heads,
            intermediate_size=intermediate,
            max_positions=positions,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            max_length=max_seq_length,
            pooling="mean",
            weight_format="F32",
        )
    )
    rng = np.random.default_rng(seed)
    weights = {name: rng.standard_normal(shape).astype(np.float32) * 0.1 for name, shape in shapes}
    save_file(weights, folder / "model.safetensors")
    return folder


def _ids(vocab: Sequence[str]) -> dict[str, int]:
    return {token: index for index, token in enumerate(vocab)}
