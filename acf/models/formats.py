"""A candidate's deployed format, named from what its steps recorded and what its weights hold.

Names: `dense-float32` / `dense-bfloat16` / `dense-float16` (plain weights), a recorded tensor layout with its
bit widths (`bitsandbytes-int8`, `bitsandbytes-nf4`, `pack-quantized-w4`, …), `gguf-Q4_K_M` for a GGUF file,
and `+sparse-bitmask` when masked weights would be stored sparse. Runtimes say which of these they run natively.
"""

from __future__ import annotations

from typing import Any

from acf.tensor_format import TensorFormat


def candidate_format(model: Any, tensor_formats: dict[str, TensorFormat]) -> str:
    layouts = set()
    for fmt in tensor_formats.values():
        bits = f"{fmt.bits:g}"
        layouts.add(fmt.format if fmt.format.startswith(("bitsandbytes", "gguf")) else f"{fmt.format}-w{bits}")
    if not layouts:
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        layouts.add(f"dense-{dtype}")
    name = "+".join(sorted(layouts))
    return f"{name}+sparse-bitmask" if _masked(model, tensor_formats) else name


def stored_bits(tensor: Any) -> int:
    """Bits of an unquantized tensor as stored: its dtype's, or — for a matrix sparse enough that
    compressed-tensors' `sparse-bitmask` layout is smaller — one bit per element plus its non-zero values."""
    dense = tensor.numel() * tensor.element_size() * 8
    if tensor.dim() < 2:
        return dense
    return min(dense, tensor.numel() + int((tensor != 0).sum()) * tensor.element_size() * 8)


def _masked(model: Any, tensor_formats: dict[str, TensorFormat]) -> bool:
    """Whether some unquantized matrix would be stored sparse (`stored_bits`, the size evaluator's rule): its
    cost as a dense model is then not the deployed one."""
    return any(stored_bits(p) < p.numel() * p.element_size() * 8 for name, p in model.named_parameters()
               if p.dim() >= 2 and name not in tensor_formats and p.is_floating_point())
