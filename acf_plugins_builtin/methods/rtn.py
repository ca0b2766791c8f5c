"""Round-to-nearest weight quantization: 2–8 bits, grouped or per channel, symmetric or asymmetric; exported as a
compressed-tensors `pack-quantized` checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acf import Choice, Int, Method, Resources, Space, Stage
from acf.toolkit import compressible_linears

from .packing import Grid, quantize_grid, save_packed


def quantize_rtn(weight, bits: int, group_size: int, symmetric: bool):
    """Quantize-dequantize `weight` [out, in] along its input dimension (float16 scales); returns the dequantized
    tensor. The grid is `packing.quantize_grid`'s."""
    return quantize_grid(weight, Grid(bits, group_size, symmetric))[0]


class RoundToNearest(Method):
    name = "rtn"
    description = "round-to-nearest weight quantization (no calibration)"
    stage = Stage.QUANTIZE
    exclusive_stage = True
    backends = ("compressed-tensors",)  # writes its checkpoint

    def space(self, spec) -> Space:
        return Space(
            params=[
                Int(name="bits", low=2, high=8, default=4, help="bits per weight"),
                Choice(
                    name="group_size",
                    options=list(spec.valid_group_sizes),
                    help="weights sharing a scale; -1 = per output channel",
                ),
                Choice(name="symmetric", options=[True, False], help="symmetric (no zero point) or asymmetric"),
            ]
        )

    def estimate(self, spec, params) -> Resources:
        # One layer at a time in fp32, plus its grouped copy.
        widest = max(spec.hidden_size, spec.intermediate_size)
        return Resources(peak_memory_bytes=3 * 4 * widest * spec.hidden_size, seconds=spec.num_parameters / 2e8)

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        grid = Grid(params["bits"], params["group_size"], params["symmetric"])
        packed = ctx.records.packed
        with torch.no_grad():
            for name, module in compressible_linears(model):
                weight, scale, zero = quantize_grid(module.weight, grid)
                module.weight.copy_(weight)
                packed[name] = (grid, scale, zero)
                ctx.set_tensor_format(f"{name}.weight", grid.tensor_format())
        return model

    def write(self, model: Any, folder: Path, ctx) -> bool:
        return save_packed(model, folder, ctx)
