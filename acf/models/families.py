"""Helpers shared by method plugins: which linear layers of a causal LM are compressible."""

from __future__ import annotations

from typing import Any


def compressible_linears(model: Any) -> list[tuple[str, Any]]:
    """Every `nn.Linear` except the output head (whose weight is usually tied to the embeddings)."""
    import torch.nn as nn

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module is not head
    ]
