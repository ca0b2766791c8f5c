"""Whole-layer dropping by block influence: remove the decoder layers that change their input least.

Block influence (ShortGPT): 1 − cos(hidden state before the layer, after it), averaged over calibration
tokens. The least influential layers go; the config's layer count follows, so the result saves and
reloads as an ordinary, shallower model.
"""

from __future__ import annotations

from typing import Any

from acf import Choice, Int, Method, Resources, Space, Stage
from acf.toolkit import family_of, unsupported_family

from .calibration import calibration_ids, forward_seconds


def decoder_layers(model: Any) -> Any:
    family = family_of(getattr(model.config, "model_type", None))
    if family is None:
        raise TypeError(unsupported_family(getattr(model.config, "model_type", None), "layer_drop"))
    return family.decoder_layers(model)


def block_influence(model: Any, ids: list[list[int]]) -> list[float]:
    import torch

    layers = decoder_layers(model)
    scores = torch.zeros(len(layers))
    counts = 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for seq in ids:
            out = model(input_ids=torch.tensor([seq], device=device), output_hidden_states=True, use_cache=False)
            hidden = out.hidden_states  # embeddings, then after each layer
            for i in range(len(layers)):
                before, after = hidden[i][0].float(), hidden[i + 1][0].float()
                scores[i] += (1 - torch.nn.functional.cosine_similarity(before, after, dim=-1)).sum().item()
            counts += len(seq)
    return (scores / max(counts, 1)).tolist()


class LayerDrop(Method):
    name = "layer_drop"
    description = "drop the decoder layers with the least block influence (a shallower dense model)"
    stage = Stage.PRUNE

    def applies_to(self, spec):
        if spec.num_layers < 2:
            return "needs at least two layers"
        return unsupported_family(spec.model_type, "layer_drop")

    def space(self, spec) -> Space:
        return Space(
            params=[
                Int(name="layers", low=1, high=max(1, spec.num_layers // 3), default=1, help="decoder layers removed"),
                Choice(name="samples", options=[16, 32, 64], default=32),
            ]
        )

    def estimate(self, spec, params) -> Resources:
        return Resources(
            peak_memory_bytes=4 * 256 * spec.hidden_size * (spec.num_layers + 1),
            seconds=forward_seconds(spec, params.get("samples", 32)),
        )

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        ids = calibration_ids(ctx, params["samples"], 256)
        scores = block_influence(model, ids)
        drop = set(sorted(range(len(scores)), key=lambda i: scores[i])[: params["layers"]])
        family = family_of(model.config.model_type)
        kept = [layer for i, layer in enumerate(family.decoder_layers(model)) if i not in drop]
        family.set_decoder_layers(model, torch.nn.ModuleList(kept))
        for new_index, layer in enumerate(kept):
            if hasattr(layer.self_attn, "layer_idx"):
                layer.self_attn.layer_idx = new_index  # the KV cache is indexed by position in the stack
        layer_types = getattr(model.config, "layer_types", None)
        if isinstance(layer_types, list) and len(layer_types) == len(scores):
            model.config.layer_types = [t for i, t in enumerate(layer_types) if i not in drop]
        model.config.num_hidden_layers = len(kept)
        ctx.record(dropped_layers=sorted(drop))
        return model
