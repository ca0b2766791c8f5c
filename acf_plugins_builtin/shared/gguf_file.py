"""Writing a candidate as a GGUF file llama.cpp loads: Llama-architecture models (Llama, Mistral, SmolLM) with a
GPT-2-style byte-level BPE tokenizer, at full precision (F32 or F16) — llama.cpp's own quantizer then makes the
low-bit types (`llama_model_quantize`).

What llama.cpp's `convert_hf_to_gguf.py` does for these models, with the `gguf` package's writer and tensor
names: the architecture's hyper-parameters, the vocabulary and merges, the special tokens, and the query/key
rows permuted from Hugging Face's rotary layout (halves) to GGML's (interleaved pairs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from acf import AcfError
from acf.toolkit import MODEL_SOURCE

# Model types written as GGUF's `llama` architecture (same tensors and rotary layout).
LLAMA_LIKE = {"llama", "mistral"}
# `tokenizer.ggml.pre` (llama.cpp's pre-tokenizer regexes) by the tokenizer's pre-tokenizer configuration, for the
# families acf knows; others get `default` (GPT-2's), and the export says so.
PRE_TOKENIZERS = {"smollm": "smollm", "llama-bpe": "llama-bpe", "gpt-2": "gpt-2"}


def gguf_unsupported(config: dict[str, Any]) -> str | None:
    """Why a model cannot be written as GGUF here, or None."""
    if config.get("model_type") not in LLAMA_LIKE:
        return f"GGUF export supports {', '.join(sorted(LLAMA_LIKE))} models, not {config.get('model_type')!r}"
    if rope(config).get("rope_type", "default") != "default":
        return "GGUF export does not carry rope scaling yet"
    return None


def rope(config: dict[str, Any]) -> dict[str, Any]:
    """The rotary settings: transformers 5's `rope_parameters`, or the older `rope_theta` / `rope_scaling`."""
    params = dict(config.get("rope_parameters") or config.get("rope_scaling") or {})
    params.setdefault("rope_theta", config.get("rope_theta", 10000.0))
    return params


def pre_tokenizer(folder: Path) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenization: as the GGUF file a folder was converted from says
    (`acf_source.json`), else from tokenizer.json (SmolLM's splits digits one by one; Llama 3's has its own
    regex). Unknown ones fall back to `default`."""
    try:
        known = json.loads((folder / MODEL_SOURCE).read_text()).get("tokenizer.ggml.pre")
        if known:
            return known
    except (OSError, ValueError):
        pass
    try:
        pre = json.loads((folder / "tokenizer.json").read_text()).get("pre_tokenizer") or {}
    except (OSError, ValueError):
        return "default"
    steps = pre.get("pretokenizers", [pre])
    kinds = [p.get("type") for p in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):  # GPT-2's own regex
        return PRE_TOKENIZERS["gpt-2"]
    if "Digits" in kinds and "ByteLevel" in kinds:
        return PRE_TOKENIZERS["smollm"]
    if "Split" in kinds and "ByteLevel" in kinds:
        return PRE_TOKENIZERS["llama-bpe"]
    return "default"


def permute(weights, heads: int):
    """Hugging Face's rotary halves → GGML's interleaved pairs, per head (convert_hf_to_gguf's `permute`)."""
    rows = weights.shape[0]
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def gguf_tensor_names(model: Any) -> dict[str, str]:
    """Each tensor of `model`'s state dict → its name in the GGUF file (`blk.0.attn_q.weight`, …); a tied output
    (`lm_head.weight` sharing the embeddings) has none: llama.cpp uses the token embeddings."""
    import gguf

    layers = model.config.num_hidden_layers
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, layers)
    tied = model.get_output_embeddings() is not None and (
        model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    )
    out = {}
    for name in model.state_dict():
        if tied and name == "lm_head.weight":
            continue
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise AcfError(f"GGUF export: no GGUF name for tensor {name}")
        out[name] = target
    return out


def write_gguf(model: Any, tokenizer_folder: Path, path: Path, *, half: bool = False) -> Path:
    """Write `model` (a transformers Llama-like model) and the tokenizer in `tokenizer_folder` to `path`."""
    import gguf
    import numpy as np

    config = model.config.to_dict()
    why_not = gguf_unsupported(config)
    if why_not:
        raise AcfError(why_not)
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    head_dim = config.get("head_dim") or hidden // heads
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(str(config.get("_name_or_path") or "acf candidate"))
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(config.get("rms_norm_eps", 1e-5))
    writer.add_rope_freq_base(float(rope(config)["rope_theta"]))
    writer.add_vocab_size(model.get_input_embeddings().weight.shape[0])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if half else gguf.LlamaFileType.ALL_F32)
    _add_tokenizer(writer, tokenizer_folder, model.get_input_embeddings().weight.shape[0])
    names = gguf_tensor_names(model)
    for name, tensor in model.state_dict().items():
        if name not in names:
            continue  # a tied output: llama.cpp uses the token embeddings when there is no output tensor
        target = names[name]
        data = tensor.detach().float().cpu().numpy()
        if name.endswith("q_proj.weight"):
            data = permute(data, heads)
        elif name.endswith("k_proj.weight"):
            data = permute(data, kv_heads)
        if half and data.ndim == 2:
            data = data.astype(np.float16)
        writer.add_tensor(target, np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_tokenizer(writer, folder: Path, vocab_size: int) -> None:
    """The vocabulary (byte-level token strings by id), merges and special tokens, as `convert_hf_to_gguf.py`
    writes a GPT-2-style BPE tokenizer."""
    import gguf
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    spec = json.loads((folder / "tokenizer.json").read_text()) if (folder / "tokenizer.json").exists() else {}
    if spec.get("model", {}).get("type") != "BPE":
        raise AcfError("GGUF export needs a BPE tokenizer with a tokenizer.json")
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    special = set(tokenizer.all_special_ids)
    added = {t.content for t in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(vocab_size):
        text = by_id.get(i)
        if text is None:  # an embedding padded past the vocabulary
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tokens.append(text)
        types.append(
            gguf.TokenType.CONTROL
            if i in special
            else gguf.TokenType.USER_DEFINED
            if text in added
            else gguf.TokenType.NORMAL
        )
    merges = spec["model"].get("merges") or []
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer(folder))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    vocab = gguf.SpecialVocab(folder, load_merges=False, n_vocab=vocab_size)
    vocab.add_to_gguf(writer, quiet=True)


def read_gguf_weights(model: Any, path: Path) -> dict[str, float]:
    """Copy a GGUF file's tensors, dequantized exactly, into `model` (written by `write_gguf`: same names, the
    query/key permutation undone). Returns each parameter's stored bits per weight in the file."""
    import gguf
    import numpy as np
    import torch

    config = model.config.to_dict()
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    stored = {t.name: t for t in gguf.GGUFReader(str(path)).tensors}
    bits: dict[str, float] = {}
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            target = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if target not in stored:
                continue  # the tied output head: llama.cpp reads the token embeddings
            entry = stored[target]
            bits[name] = int(entry.n_bytes) * 8 / max(tensor.numel(), 1)
            data = gguf.quants.dequantize(entry.data, entry.tensor_type).reshape(tuple(tensor.shape))
            if name.endswith("q_proj.weight"):
                data = unpermute(data, heads)
            elif name.endswith("k_proj.weight"):
                data = unpermute(data, kv_heads)
            tensor.copy_(torch.from_numpy(np.array(data, dtype=np.float32)).to(tensor.dtype))
    return bits


def unpermute(weights, heads: int):
    """The inverse of `permute`: GGML's interleaved rotary pairs back to Hugging Face's halves."""
    rows = weights.shape[0]
    return weights.reshape(heads, rows // heads // 2, 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)
