"""How each tensor would be stored: methods record it, the size evaluator reads it.

acf evaluates quantized weights dequantized (simulated), so a tensor's in-memory dtype says nothing about
its deployed size; a method that changes the representation records a `TensorFormat` for that tensor with
`ctx.set_tensor_format(name, fmt)`.
"""

from __future__ import annotations

from pydantic import BaseModel


class TensorFormat(BaseModel):
    """Bits per stored weight plus per-group overheads.

    `scale_bits` and `zero_bits` are paid once per group of `group_size` weights (per output row when
    `group_size` is None). `format` names the on-disk layout (e.g. `pack-quantized`).
    """

    bits: float
    group_size: int | None = None
    scale_bits: float = 16
    zero_bits: float = 0
    format: str = "pack-quantized"
    # The logical [out, in] shape, when the stored tensor is packed into another shape (bitsandbytes).
    shape: tuple[int, int] | None = None

    def effective_bits(self, in_features: int) -> float:
        group = self.group_size or in_features
        return self.bits + (self.scale_bits + self.zero_bits) / group
