"""Deployed size, from how each tensor is stored (recorded by the methods), not from its in-memory dtype.

Rules: a tensor a method quantized costs its bits plus per-group scales and zero points (`TensorFormat`);
any other tensor costs its dtype's bytes, or — when it is sparse and a bitmask layout is smaller — one bit
per element plus its non-zero values (compressed-tensors' `sparse-bitmask`). Quantized tensors get no
sparse saving (their packed layout stores zeros). Tied tensors are counted once. 1 MB = 10^6 bytes.
"""

from __future__ import annotations

from acf import Evaluator, Measurement, Metric, TensorFormat
from acf.toolkit import stored_bits


def tensor_bits(tensor, fmt=None) -> float:
    numel = tensor.numel()
    if fmt is not None:
        rows, in_features = fmt.shape or ((tensor.shape[0] if tensor.dim() > 1 else 1), tensor.shape[-1])
        numel = rows * in_features
        groups = rows * (in_features // (fmt.group_size or in_features))
        return numel * fmt.bits + groups * (fmt.scale_bits + fmt.zero_bits)
    return stored_bits(tensor)


def model_size_bits(model, formats: dict[str, TensorFormat]) -> tuple[float, int]:
    """Total stored bits and the number of parameters (tied parameters once); `formats` are what the steps
    recorded (`ctx.tensor_formats`)."""
    seen, bits, count = set(), 0.0, 0
    for name, param in model.named_parameters(remove_duplicate=False):
        key = param.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        bits += tensor_bits(param.detach(), formats.get(name))
        count += param.numel()
    return bits, count


class Size(Evaluator):
    name = "size"
    description = "deployed size in MB and effective bits per weight"
    metrics = (
        Metric(name="size_mb", direction="min", unit="MB", category="size", description="deployed weight size"),
        Metric(name="bits_per_weight", direction="min", unit="bits", category="size", description="stored bits / parameters"),
    )

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        bits, count = model_size_bits(model, ctx.tensor_formats)
        return {
            "size_mb": Measurement.exact(bits / 8 / 1e6, unit="MB", fidelity=fidelity),
            "bits_per_weight": Measurement.exact(bits / max(count, 1), unit="bits", fidelity=fidelity),
        }
