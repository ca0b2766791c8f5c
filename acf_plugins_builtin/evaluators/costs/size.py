"""Deployed size: the bytes on disk of the candidate's checkpoint (`ctx.checkpoint`: its Hugging Face folder's
weights and configuration, or the GGUF file a step wrote), written once per content. 1 MB = 10^6 bytes.

The size computed from how each tensor is stored (recorded by the methods) is kept as a check against the tensor
data in the checkpoint (file headers and configuration left out): where the two differ by more than 2%, the
measurement's notes say so.

Rules of the computed size: a tensor a method quantized costs its bits plus per-group scales and zero points
(`TensorFormat`); any other tensor its dtype's bytes (masked weights are stored dense: compressed-tensors 0.19
has no sparse layout). Tied tensors are counted once.
"""

from __future__ import annotations

from acf import Evaluator, Measurement, Metric, TensorFormat
from acf.toolkit import compressible_linears, stored_bits

# How far the checkpoint's bytes may be from the computed size before the difference is noted.
AGREEMENT = 0.02


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
    recorded (`ctx.tensor_formats`). A quantized weight's own scales and zero points (compressed-tensors keeps
    them as parameters beside it: `weight_scale`, `weight_zero_point`, …) are part of its format."""
    seen, bits, count = set(), 0.0, 0
    for name, param in model.named_parameters(remove_duplicate=False):
        key = param.data_ptr()
        owner, _, own = name.rpartition(".")
        if key in seen or (own.startswith("weight_") and f"{owner}.weight" in formats):
            continue
        seen.add(key)
        bits += tensor_bits(param.detach(), formats.get(name))
        count += param.numel()
    return bits, count


def effective_bits(model, formats: dict[str, TensorFormat]) -> float:
    """Average stored bits per weight of the compressible linear layers (scales and zero points included; a layer
    no method quantized at its dtype's bits): the budget of per-layer quantization."""
    bits = weights = 0.0
    for name, module in compressible_linears(model):
        fmt = formats.get(f"{name}.weight")
        rows, cols = fmt.shape if fmt is not None and fmt.shape else (module.out_features, module.in_features)
        bits += tensor_bits(module.weight.detach(), fmt)
        weights += rows * cols
    return bits / max(weights, 1)


class Size(Evaluator):
    name = "size"
    in_default_runs = True
    default_objectives = ("size_mb",)
    description = "checkpoint size on disk in MB and bits per weight"
    version = "2"  # 2: read from the written checkpoint (was computed from the tensor formats); effective_bits
    metrics = (
        Metric(
            name="size_mb",
            direction="min",
            unit="MB",
            category="size",
            description="bytes of the checkpoint on disk (weights and configuration)",
        ),
        Metric(
            name="bits_per_weight",
            direction="min",
            unit="bits",
            category="size",
            description="checkpoint bits / parameters",
        ),
        Metric(
            name="effective_bits",
            direction="min",
            unit="bits",
            category="size",
            description="stored bits per weight of the linear layers, scales and zero points included",
        ),
    )

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        stored, tensors = ctx.checkpoint_bytes(model)
        bits, count = model_size_bits(model, ctx.tensor_formats)
        computed = bits / 8
        notes = []
        if abs(tensors - computed) > AGREEMENT * tensors:
            notes.append(
                f"the checkpoint's tensors take {tensors / 1e6:.4g} MB, {(computed - tensors) / tensors:+.1%} "
                f"off the {computed / 1e6:.4g} MB computed from their formats"
            )
        return {
            "size_mb": Measurement.exact(stored / 1e6, unit="MB", fidelity=fidelity, notes=notes),
            "bits_per_weight": Measurement.exact(stored * 8 / max(count, 1), unit="bits", fidelity=fidelity),
            "effective_bits": Measurement.exact(
                effective_bits(model, ctx.tensor_formats), unit="bits", fidelity=fidelity
            ),
        }
