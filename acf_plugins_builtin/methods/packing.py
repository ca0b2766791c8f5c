"""Weights rounded to an integer grid, and the compressed-tensors `pack-quantized` checkpoint that stores them (what
transformers and vLLM load): shared by `rtn` and `per_layer`.

Scales are stored in float16 and the in-memory weights are dequantized from the float16 scales, so the checkpoint
holds exactly the weights that were evaluated.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acf import StrategyError, TensorFormat

SCALE_BITS = 16


@dataclass(frozen=True)
class Grid:
    """How one weight matrix is quantized: `bits`, `group_size` input columns per scale (-1: one per output
    row) and whether the grid is symmetric (no zero point)."""

    bits: int
    group_size: int
    symmetric: bool

    def tensor_format(self) -> TensorFormat:
        # compressed-tensors packs asymmetric zero points at the weights' own width
        return TensorFormat(
            bits=self.bits,
            group_size=None if self.group_size == -1 else self.group_size,
            scale_bits=SCALE_BITS,
            zero_bits=0 if self.symmetric else self.bits,
            format="pack-quantized",
        )


def quantize_grid(weight: Any, grid: Grid) -> tuple[Any, Any, Any]:
    """Round `weight` [out, in] to `grid` along its input dimension: (dequantized weight in its dtype, float16
    scales [out, groups], int8 zero points in compressed-tensors' signed convention or None).

    Symmetric: q ∈ [-2^(b-1), 2^(b-1)-1], scale = max|w| / (2^(b-1)-1).
    Asymmetric: q ∈ [0, 2^b-1], scale = (max-min) / (2^b-1), zero = round(-min/scale); stored as q - 2^(b-1)
    with zero point zero - 2^(b-1), which dequantizes to the same (q - zero) · scale.
    """
    import torch

    out_features, in_features = weight.shape
    group = in_features if grid.group_size == -1 else grid.group_size
    if in_features % group:
        raise StrategyError(f"group size {group} does not divide a layer's input width {in_features}")
    w = weight.detach().float().reshape(out_features, in_features // group, group)
    tiny = torch.finfo(torch.float16).tiny
    if grid.symmetric:
        qmax = 2 ** (grid.bits - 1) - 1
        scale = (w.abs().amax(dim=-1) / max(qmax, 1)).clamp(min=tiny).half()
        q = torch.clamp(torch.round(w / scale.float()[..., None]), -(qmax + 1), qmax)
        deq, zero = q * scale.float()[..., None], None
    else:
        qmax = 2**grid.bits - 1
        wmin, wmax = w.amin(dim=-1).clamp(max=0), w.amax(dim=-1).clamp(min=0)
        scale = ((wmax - wmin) / qmax).clamp(min=tiny).half()
        z = torch.round(-wmin / scale.float()).clamp(0, qmax)
        q = torch.clamp(torch.round(w / scale.float()[..., None]) + z[..., None], 0, qmax)
        deq = (q - z[..., None]) * scale.float()[..., None]
        zero = (z - 2 ** (grid.bits - 1)).to(torch.int8)
    return deq.reshape(out_features, in_features).to(weight.dtype), scale, zero


def compressed_tensors_missing() -> str | None:
    if importlib.util.find_spec("compressed_tensors") is None:
        return "compressed-tensors is not installed: pip install 'acf[llmcompressor]'"
    return None


def save_packed(model: Any, folder: Path, ctx: Any) -> bool:
    """`Method.write` of a method that records its layers in `ctx.records.packed` (name → (grid, scale, zero)): the
    packed checkpoint; without compressed-tensors, False (the weights are then written dense, and the
    size evaluator reports the difference from the computed size)."""
    packed = ctx.records.packed
    if not packed or compressed_tensors_missing():
        return False
    save_pack_quantized(model, folder, packed)
    return True


def save_pack_quantized(model: Any, folder: Path, layers: dict[str, tuple[Grid, Any, Any]]) -> None:
    """Write `model` to `folder` with each Linear named in `layers` (name → (grid, scale, zero)) packed by
    compressed-tensors, one config group per grid; every other tensor as it is."""
    import torch
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
    from compressed_tensors.quantization import (
        QuantizationArgs,
        QuantizationConfig,
        QuantizationScheme,
        QuantizationStatus,
    )

    modules = dict(model.named_modules())
    state = dict(model.state_dict())
    groups: dict[Grid, list[str]] = {}
    for name, (grid, scale, zero) in layers.items():
        args = _args(grid, QuantizationArgs, torch)
        local = {"weight": modules[name].weight.detach(), "weight_scale": scale}
        if zero is not None:
            local["weight_zero_point"] = zero
        del state[f"{name}.weight"]
        for key, value in PackedQuantizationCompressor.compress(
            local, QuantizationScheme(targets=[], weights=args)
        ).items():
            state[f"{name}.{key}"] = value
        groups.setdefault(grid, []).append(name)
    config = QuantizationConfig(
        config_groups={
            f"group_{i}": QuantizationScheme(targets=names, weights=_args(grid, QuantizationArgs, torch))
            for i, (grid, names) in enumerate(sorted(groups.items(), key=lambda kv: _order(kv[0])))
        },
        format="pack-quantized",
        quantization_status=QuantizationStatus.COMPRESSED,
        ignore=sorted(n for n, m in modules.items() if isinstance(m, torch.nn.Linear) and n not in layers),
    )
    model.save_pretrained(folder, state_dict=state)
    ModelCompressor(quantization_config=config).update_config(str(folder))


def _args(grid: Grid, QuantizationArgs: Any, torch: Any) -> Any:
    strategy = (
        {"strategy": "channel"} if grid.group_size == -1 else {"strategy": "group", "group_size": grid.group_size}
    )
    return QuantizationArgs(
        num_bits=grid.bits, type="int", symmetric=grid.symmetric, scale_dtype=torch.float16, **strategy
    )


def _order(grid: Grid) -> tuple[int, int, bool]:
    return grid.bits, grid.group_size, grid.symmetric
