"""Round-to-nearest weight quantization: 2–8 bits, grouped or per channel, symmetric or asymmetric."""

from __future__ import annotations

from typing import Any

from acf import Choice, Int, Method, Resources, Space, Stage, StrategyError, TensorFormat
from acf.toolkit import compressible_linears


def quantize_rtn(weight, bits: int, group_size: int, symmetric: bool):
    """Quantize-dequantize `weight` [out, in] along its input dimension; returns the dequantized tensor.

    Symmetric: q ∈ [-2^(b-1), 2^(b-1)-1], scale = max|w| / (2^(b-1)-1).
    Asymmetric: q ∈ [0, 2^b-1], scale = (max-min) / (2^b-1), zero = round(-min/scale).
    """
    import torch

    out_features, in_features = weight.shape
    group = in_features if group_size == -1 else group_size
    if in_features % group:
        raise StrategyError(f"group size {group} does not divide a layer's input width {in_features}")
    w = weight.detach().float().reshape(out_features, in_features // group, group)
    if symmetric:
        qmax = 2 ** (bits - 1) - 1
        scale = (w.abs().amax(dim=-1, keepdim=True) / max(qmax, 1)).clamp(min=1e-10)
        q = torch.clamp(torch.round(w / scale), -(qmax + 1), qmax)
        deq = q * scale
    else:
        qmax = 2**bits - 1
        wmin = w.amin(dim=-1, keepdim=True).clamp(max=0)
        wmax = w.amax(dim=-1, keepdim=True).clamp(min=0)
        scale = ((wmax - wmin) / qmax).clamp(min=1e-10)
        zero = torch.round(-wmin / scale)
        q = torch.clamp(torch.round(w / scale) + zero, 0, qmax)
        deq = (q - zero) * scale
    return deq.reshape(out_features, in_features).to(weight.dtype)


class RoundToNearest(Method):
    name = "rtn"
    description = "round-to-nearest weight quantization (no calibration)"
    stage = Stage.QUANTIZE
    exclusive_stage = True

    def space(self, spec) -> Space:
        return Space(params=[
            Int(name="bits", low=2, high=8, default=4, help="bits per weight"),
            Choice(name="group_size", options=list(spec.valid_group_sizes), help="weights sharing a scale; -1 = per output channel"),
            Choice(name="symmetric", options=[True, False], help="symmetric (no zero point) or asymmetric"),
        ])

    def estimate(self, spec, params) -> Resources:
        # One layer at a time in fp32, plus its grouped copy.
        widest = max(spec.hidden_size, spec.intermediate_size)
        return Resources(peak_memory_bytes=3 * 4 * widest * spec.hidden_size, seconds=spec.num_parameters / 2e8)

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        bits, group, symmetric = params["bits"], params["group_size"], params["symmetric"]
        with torch.no_grad():
            for name, module in compressible_linears(model):
                module.weight.copy_(quantize_rtn(module.weight, bits, group, symmetric))
                ctx.set_tensor_format(f"{name}.weight", TensorFormat(
                    bits=bits, group_size=None if group == -1 else group, scale_bits=16,
                    zero_bits=0 if symmetric else 8, format="pack-quantized",
                ))
        return model
