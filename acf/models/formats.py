"""A candidate's deployed format, named from what its steps recorded and what its weights hold.

Names: `dense-float32` / `dense-bfloat16` / `dense-float16` (plain weights), a recorded tensor layout with its
bit widths (`bitsandbytes-int8`, `bitsandbytes-nf4`, `pack-quantized-w4`, …), `gguf-Q4_K_M` for a GGUF file.
Masked (pruned) weights are stored dense — compressed-tensors 0.19 has no sparse layout, and no runtime acf
deploys on skips zeros — so a masked candidate's format is its dense one, and its cost the dense model's.
Runtimes say which of these they run natively.
"""

from __future__ import annotations

from typing import Any

from acf.types.tensor_format import TensorFormat


def candidate_format(model: Any, tensor_formats: dict[str, TensorFormat]) -> str:
    layouts = set()
    for fmt in tensor_formats.values():
        bits = f"{fmt.bits:g}"
        layouts.add(fmt.format if fmt.format.startswith(("bitsandbytes", "gguf")) else f"{fmt.format}-w{bits}")
    if not layouts:
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        layouts.add(f"dense-{dtype}")
    return "+".join(sorted(layouts))


def stored_bits(tensor: Any) -> int:
    """Bits of an unquantized tensor as a checkpoint stores it: its dtype's, zeros included (masked weights are
    stored dense)."""
    return tensor.numel() * tensor.element_size() * 8
