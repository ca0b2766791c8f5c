"""An example method: round linear weights to bfloat16 (a real, cheap 2× weight compression), and write them so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acf import Choice, Method, Resources, Space, Stage, TensorFormat
from acf.toolkit import compressible_linears


class RoundToBF16(Method):
    name = "{{name}}_bf16"
    description = "round linear weights to bfloat16 (16 bits per weight)"
    stage = Stage.QUANTIZE

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(
                    name="skip_attention",
                    options=[False, True],
                    help="leave the attention projections in full precision",
                )
            ]
        )

    def estimate(self, spec, params) -> Resources:
        return Resources(
            peak_memory_bytes=4 * spec.hidden_size * spec.intermediate_size, seconds=spec.num_parameters / 5e8
        )

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import torch

        with torch.no_grad():
            for name, module in compressible_linears(model):
                if params["skip_attention"] and ".self_attn." in name:
                    continue
                module.weight.copy_(module.weight.to(torch.bfloat16).to(module.weight.dtype))
                ctx.set_tensor_format(f"{name}.weight", TensorFormat(bits=16, format="bfloat16"))
        return model

    def write(self, model: Any, folder: Path, ctx) -> bool:
        """Write the rounded weights as bfloat16: the checkpoint acf measures (`size_mb`) is what this method made
        it. transformers reloads them into the float32 model exactly. Return False to let `save_pretrained` do it."""
        import torch

        rounded = {name for name, fmt in ctx.tensor_formats.items() if fmt.format == "bfloat16"}
        state = {k: v.to(torch.bfloat16) if k in rounded else v for k, v in model.state_dict().items()}
        model.save_pretrained(folder, state_dict=state)
        return True
