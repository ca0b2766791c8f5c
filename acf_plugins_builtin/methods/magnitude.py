"""Unstructured magnitude pruning: zero the smallest |w| of each linear layer (or of each output row)."""

from __future__ import annotations

from typing import Any

from acf import Choice, Float, Method, Resources, Space, Stage
from acf.toolkit import compressible_linears


def prune_magnitude(weight, sparsity: float, scope: str):
    """Zero the `sparsity` fraction of smallest-magnitude entries, per layer or per output row, in place."""
    import torch

    if sparsity <= 0:
        return weight
    w = weight.data
    if scope == "row":
        k = int(round(sparsity * w.shape[1]))
        if k == 0:
            return weight
        idx = torch.topk(w.abs(), k, dim=1, largest=False).indices
        w.scatter_(1, idx, 0.0)
    else:
        k = int(round(sparsity * w.numel()))
        if k == 0:
            return weight
        flat = w.view(-1)
        idx = torch.topk(flat.abs(), k, largest=False).indices
        flat[idx] = 0.0
    return weight


class MagnitudePruning(Method):
    name = "magnitude"
    description = "unstructured magnitude pruning (continuous sparsity; no calibration)"
    stage = Stage.PRUNE

    def space(self, spec) -> Space:
        return Space(
            params=[
                Float(
                    name="sparsity",
                    low=0.05,
                    high=0.9,
                    default=0.5,
                    help="fraction of each layer's weights set to zero",
                ),
                Choice(
                    name="scope", options=["layer", "row"], help="rank weights within a layer or within each output row"
                ),
            ]
        )

    def estimate(self, spec, params) -> Resources:
        widest = max(spec.hidden_size, spec.intermediate_size)
        return Resources(peak_memory_bytes=4 * 8 * widest * spec.hidden_size, seconds=spec.num_parameters / 1e8)

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        with torch.no_grad():
            for _, module in compressible_linears(model):
                prune_magnitude(module.weight, params["sparsity"], params["scope"])
        return model
