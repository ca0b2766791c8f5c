"""Structured pruning of MLP channels and whole attention KV groups, with torch-pruning's layer surgery.

MLP channels are ranked by how much they carry on calibration text (mean |activation| entering down_proj ×
‖down_proj column‖, as in FLAP/Wanda); every decoder layer loses the same number, so the result is an ordinary,
smaller model whose config says so. Kept widths stay a
multiple of the model's largest valid quantization group up to 128, so a quantization step may follow. Heads go a
whole KV group at a time (a key/value head and the query heads sharing it), which keeps GQA consistent.
torch-pruning's automatic grouping is not used: on Llama its attention-head grouping hung for minutes.
Where the projections are comes from the model-family adapters (`acf.toolkit.family_of`); a family without one,
or a change its adapter refuses, is refused at validation.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from acf import Choice, Float, Method, MissingBackendError, Resources, Space, Stage
from acf.toolkit import ModelFamily, family_of, unsupported_family

from .calibration import calibration_ids, forward_seconds


def _missing() -> str | None:
    if importlib.util.find_spec("torch_pruning") is None:
        return "torch-pruning is not installed: pip install 'acf[pruning]'"
    return None


def _family(model: Any) -> ModelFamily:
    family = family_of(getattr(model.config, "model_type", None))
    if family is None:
        raise TypeError(unsupported_family(getattr(model.config, "model_type", None), "mlp_channels"))
    return family


def channel_activity(model: Any, ids: list[list[int]]) -> list[Any]:
    """Per decoder layer: mean |activation| of each MLP channel (the input of down_proj) over calibration tokens."""
    import torch

    family = _family(model)
    layers = family.decoder_layers(model)
    sums = [None] * len(layers)
    count = [0]

    def hook(i):
        def record(module, args):
            x = args[0].detach().float().abs().reshape(-1, args[0].shape[-1])
            sums[i] = x.sum(0) if sums[i] is None else sums[i] + x.sum(0)

        return record

    handles = [family.down_proj(layer).register_forward_pre_hook(hook(i)) for i, layer in enumerate(layers)]
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            for seq in ids:
                model(input_ids=torch.tensor([seq], device=device), use_cache=False)
                count[0] += len(seq)
    finally:
        for h in handles:
            h.remove()
    return [s / count[0] for s in sums]


def width_multiple(spec) -> int:
    """Pruned widths stay multiples of this: the largest valid quantization group up to 128 (the usual maximum)."""
    return max([g for g in spec.valid_group_sizes if 0 < g <= 128] or [1])


def kept_channels(total: int, ratio: float, multiple: int) -> int:
    keep = int(round(total * (1 - ratio) / multiple)) * multiple
    return max(multiple, min(total, keep))


class StructuredPruning(Method):
    name = "structured"
    backends = ("torch-pruning",)
    description = "remove MLP channels, attention KV groups and hidden width (a smaller dense model), via torch-pruning"
    stage = Stage.PRUNE

    def applies_to(self, spec):
        if spec.num_experts > 1:
            return "mixture-of-experts MLPs are not supported"
        if not spec.gated_mlp:
            return "needs a gated (Llama-style) MLP"
        return unsupported_family(spec.model_type, "mlp_channels") or _missing()

    def space(self, spec) -> Space:
        params = [
            Float(name="mlp_ratio", low=0.0, high=0.5, default=0.25, help="fraction of MLP channels removed"),
            Choice(name="samples", options=[8, 16, 32], default=16, help="calibration texts for channel importance"),
        ]
        if unsupported_family(spec.model_type, "hidden") is None:
            params.insert(
                1,
                Choice(
                    name="hidden_ratio",
                    options=[0.0, 0.125, 0.25],
                    default=0.0,
                    help="fraction of the hidden (residual) width removed",
                ),
            )
        removable = self.removable_kv_groups(spec)
        if len(removable) > 1 and unsupported_family(spec.model_type, "kv_groups") is None:
            params.append(
                Choice(
                    name="kv_groups",
                    options=removable,
                    default=0,
                    help="KV groups (a key/value head and its query heads) removed per layer",
                )
            )
        return Space(params=params)

    @staticmethod
    def removable_kv_groups(spec) -> list[int]:
        """Counts of KV groups whose removal leaves the attention output width a multiple of every group size."""
        multiple = width_multiple(spec)
        per_group = spec.num_attention_heads // spec.num_key_value_heads * spec.head_dim
        return [
            g for g in range(spec.num_key_value_heads) if ((spec.num_key_value_heads - g) * per_group) % multiple == 0
        ]

    def estimate(self, spec, params) -> Resources:
        return Resources(
            peak_memory_bytes=4 * spec.hidden_size * spec.intermediate_size * 3,
            seconds=1.0 + forward_seconds(spec, params.get("samples", 16)),
        )

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        if _missing():
            raise MissingBackendError("torch-pruning", "pruning", "the structured method")
        import torch

        family = _family(model)
        multiple = width_multiple(ctx.spec)
        activity = (
            channel_activity(model, calibration_ids(ctx, params["samples"], 256)) if params["mlp_ratio"] > 0 else None
        )
        with torch.no_grad():
            for i, layer in enumerate(family.decoder_layers(model)):
                self._prune_mlp(family, layer, params["mlp_ratio"], multiple, activity[i] if activity else None)
                if params.get("kv_groups"):
                    self._prune_kv_groups(family.attention_of(layer), params["kv_groups"], model.config)
        if params.get("hidden_ratio"):
            self._prune_hidden(
                model, family, params["hidden_ratio"], multiple, calibration_ids(ctx, params["samples"], 256)
            )
        model.config.intermediate_size = family.down_proj(family.decoder_layers(model)[0]).in_features
        if params.get("kv_groups"):
            attn = family.attention_of(family.decoder_layers(model)[0])
            model.config.num_key_value_heads = attn.k_proj.out_features // attn.head_dim
            model.config.num_attention_heads = attn.q_proj.out_features // attn.head_dim
            model.config.head_dim = attn.head_dim
        return model

    @staticmethod
    def _prune_mlp(family: ModelFamily, layer, ratio: float, multiple: int, activity=None) -> None:
        import torch_pruning as tp

        down = family.down_proj(layer)
        total = down.in_features
        keep = kept_channels(total, ratio, multiple)
        if keep == total:
            return
        score = activity * down.weight.norm(dim=0)
        drop = sorted(score.argsort()[: total - keep].tolist())
        for proj in family.mlp_inputs(layer):
            # a fused gate_up projection holds the gate channels, then the up channels
            halves = proj.out_features // total
            tp.prune_linear_out_channels(proj, [h * total + c for h in range(halves) for c in drop])
        tp.prune_linear_in_channels(down, drop)

    @staticmethod
    def _prune_hidden(model, family: ModelFamily, ratio: float, multiple: int, ids) -> None:
        """Remove residual-stream dimensions with the smallest mean |activation| across all layers' outputs:
        the embeddings (and a tied head), every norm, and the matching rows/columns of every projection."""
        import torch
        import torch_pruning as tp

        hidden = model.config.hidden_size
        keep = kept_channels(hidden, ratio, multiple)
        if keep == hidden:
            return
        device = next(model.parameters()).device
        activity = torch.zeros(hidden, device=device)
        with torch.inference_mode():
            for seq in ids:
                states = model(
                    input_ids=torch.tensor([seq], device=device), output_hidden_states=True, use_cache=False
                ).hidden_states
                activity += sum(h[0].float().abs().mean(0) for h in states)
        drop = sorted(activity.argsort()[: hidden - keep].tolist())
        kept = torch.tensor(sorted(set(range(hidden)) - set(drop)), device=device)
        embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
        tied = head is not None and head.weight is embedding.weight
        tp.prune_embedding_out_channels(embedding, drop)
        if tied:
            head.weight = embedding.weight  # keep one shared table
            head.in_features = keep
        elif head is not None:
            tp.prune_linear_in_channels(head, drop)
        for norm in family.layer_norms(model):
            norm.weight = torch.nn.Parameter(norm.weight.data[kept].clone())
        for layer in family.decoder_layers(model):
            for proj in (*family.attention_inputs(layer), *family.mlp_inputs(layer)):
                tp.prune_linear_in_channels(proj, drop)
            for proj in (family.attention_output(layer), family.down_proj(layer)):
                tp.prune_linear_out_channels(proj, drop)
        # no longer hidden_size / heads
        model.config.head_dim = family.attention_of(family.decoder_layers(model)[0]).head_dim
        model.config.hidden_size = keep

    @staticmethod
    def _prune_kv_groups(attn, groups: int, config) -> None:
        import torch_pruning as tp

        d = attn.head_dim
        kv = attn.k_proj.out_features // d
        per_group = attn.q_proj.out_features // d // kv
        # a group's importance: the norms of its key, value, query and output weights
        score = [
            sum(
                w.norm().item()
                for w in (
                    attn.k_proj.weight[g * d : (g + 1) * d],
                    attn.v_proj.weight[g * d : (g + 1) * d],
                    attn.q_proj.weight[g * per_group * d : (g + 1) * per_group * d],
                    attn.o_proj.weight[:, g * per_group * d : (g + 1) * per_group * d],
                )
            )
            for g in range(kv)
        ]
        drop_groups = sorted(sorted(range(kv), key=lambda g: score[g])[:groups])
        kv_idx = [i for g in drop_groups for i in range(g * d, (g + 1) * d)]
        q_idx = [i for g in drop_groups for i in range(g * per_group * d, (g + 1) * per_group * d)]
        tp.prune_linear_out_channels(attn.k_proj, kv_idx)
        tp.prune_linear_out_channels(attn.v_proj, kv_idx)
        tp.prune_linear_out_channels(attn.q_proj, q_idx)
        tp.prune_linear_in_channels(attn.o_proj, q_idx)
