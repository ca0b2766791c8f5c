"""llama.cpp's importance matrix, collected in transformers: for every linear weight of the decoder, the mean over
the calibration tokens of each input column's squared activation — what `llama-imatrix` collects (llama-cpp-python
does not expose that tool) — keyed by the weight's GGUF tensor name, for llama.cpp's quantizer
(`llama_model_quantize_params.imatrix`). Computed once per model content and calibration text, and cached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from acf.toolkit import cache_dir, compressible_linears, content_hash, model_device
from acf_plugins_builtin.shared.gguf_file import gguf_tensor_names


def importance_matrix(model: Any, chunks: list[list[int]]) -> Path:
    """An `.npz` file of GGUF tensor name → float32 importance per input column, for `model` over the token ids of
    `chunks` (the run's held-out calibration text); written once per content into `ACF_CACHE_DIR/imatrix`."""
    import numpy as np

    digest = hashlib.sha256(json.dumps([content_hash(model, {}, []), chunks]).encode()).hexdigest()[:32]
    path = cache_dir() / "imatrix" / f"{digest}.npz"
    if path.is_file():
        return path
    names = gguf_tensor_names(model)
    sums = collect(model, chunks)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp.npz")
    np.savez(staging, **{names[f"{module}.weight"]: values for module, values in sums.items()})
    staging.replace(path)  # whole or not at all
    return path


def collect(model: Any, chunks: list[list[int]]) -> dict[str, Any]:
    """Module name → mean over every token of the squared input of each column, for the decoder's linear layers."""
    import torch

    totals: dict[str, Any] = {}
    counts: dict[str, int] = {}

    def hook(name: str):
        def record(module, inputs, output):
            x = inputs[0].detach().reshape(-1, inputs[0].shape[-1]).double()
            totals[name] = totals.get(name, 0) + (x * x).sum(dim=0)
            counts[name] = counts.get(name, 0) + x.shape[0]

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in compressible_linears(model)]
    device = model_device(model)
    try:
        with torch.inference_mode():
            for ids in chunks:
                model(input_ids=torch.tensor([ids], device=device))
    finally:
        for handle in handles:
            handle.remove()
    return {name: (totals[name] / counts[name]).float().cpu().numpy() for name in totals}
