"""An example method: round linear weights to bfloat16 (a real, cheap 2× weight compression)."""

from __future__ import annotations

from typing import Any

from acf import Choice, Method, Resources, Space, Stage, TensorFormat
from acf.toolkit import compressible_linears


class RoundToBF16(Method):
    name = "{{name}}_bf16"
    description = "round linear weights to bfloat16 (16 bits per weight)"
    stage = Stage.QUANTIZE

    def space(self, spec) -> Space:
        return Space(params=[Choice(name="skip_attention", options=[False, True],
                                    help="leave the attention projections in full precision")])

    def estimate(self, spec, params) -> Resources:
        return Resources(peak_memory_bytes=4 * spec.hidden_size * spec.intermediate_size, seconds=spec.num_parameters / 5e8)

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        with torch.no_grad():
            for name, module in compressible_linears(model):
                if params["skip_attention"] and ".self_attn." in name:
                    continue
                module.weight.copy_(module.weight.to(torch.bfloat16).to(module.weight.dtype))
                ctx.set_tensor_format(f"{name}.weight", TensorFormat(bits=16, format="bfloat16"))
        return model
