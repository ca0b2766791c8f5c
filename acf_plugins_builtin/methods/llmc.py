"""Running llm-compressor's `oneshot` inside an episode, and recording what it stored."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path
from typing import Any

from acf import Choice, Method, MissingBackendError, Resources, TensorFormat
from acf.toolkit import quiet_progress_bars

from .calibration import calibration_dataset

# Seconds per (parameter × calibration token) seen on 2 CPU cores (GPTQ W4 g64 on SmolLM2, 32×256 tokens: 54 s).
CPU_SECONDS_PER_PARAM_TOKEN = 4.9e-11


def require_llmcompressor(purpose: str) -> None:
    """Raise a clear error when llm-compressor is missing; else import it quietly (before any of its modules)."""
    if importlib.util.find_spec("llmcompressor") is None:
        raise MissingBackendError("llmcompressor", "llmcompressor", purpose)
    quiet_llmcompressor()


def llmcompressor_missing() -> str | None:
    """Why llm-compressor methods cannot run here (for `Method.applies_to`), or None."""
    if importlib.util.find_spec("llmcompressor") is None:
        return "llmcompressor is not installed: pip install 'acf[llmcompressor]'"
    return None


def quiet_llmcompressor() -> None:
    """llm-compressor logs every layer to stdout (which would corrupt `--json` output); acf reports progress itself.

    Set LLM_COMPRESSOR_LOG_DISABLED=false to see its logs.
    """
    import os

    from loguru import logger

    # importing it configures loguru with a stdout sink, and logs while importing (no accelerator): unless the
    # user asked for its logs, it is imported with its logging disabled
    os.environ.setdefault("LLM_COMPRESSOR_LOG_DISABLED", "true")
    importlib.import_module("llmcompressor")

    try:
        logger.level("METRIC")
    except ValueError:  # llm-compressor logs at this level even when its logging was disabled at import
        logger.level("METRIC", no=38)
    if os.environ.get("LLM_COMPRESSOR_LOG_DISABLED", "true").lower() == "true":
        logger.disable("llmcompressor")
        logger.disable("compressed_tensors")


@contextlib.contextmanager
def _no_pinned_memory_without_accelerator():
    """llm-compressor's AWQ pins cached activations, which needs an accelerator; skip pinning when there is none."""
    import torch

    if torch.cuda.is_available():
        yield
        return
    from llmcompressor.pipelines.cache import IntermediatesCache

    original = IntermediatesCache.__dict__["_pin_intermediate"]
    IntermediatesCache._pin_intermediate = classmethod(lambda cls, intermediate: None)
    try:
        yield
    finally:
        IntermediatesCache._pin_intermediate = original


def run_oneshot(model: Any, ctx: Any, recipe: Any, *, samples: int, seq_len: int, pin_workaround: bool = False) -> Any:
    """Apply an llm-compressor recipe to `model` in place, calibrated on the task's held-out texts."""
    from llmcompressor import oneshot

    dataset = calibration_dataset(ctx, samples, seq_len)
    if not getattr(model.config, "name_or_path", None):
        model.config.name_or_path = ctx.spec.path or ctx.spec.source  # oneshot needs a name for the model
    workaround = _no_pinned_memory_without_accelerator() if pin_workaround else contextlib.nullcontext()
    quiet_llmcompressor()
    label = f"calibrating {type(recipe).__name__} on {len(dataset)} × ≤{seq_len} tokens (llm-compressor)"
    with quiet_progress_bars(), workaround, ctx.progress.task(label, total=None):
        oneshot(
            model=model,
            dataset=dataset,
            recipe=recipe,
            num_calibration_samples=len(dataset),
            max_seq_length=seq_len,
            shuffle_calibration_samples=False,
        )
    record_quantized_formats(model, ctx)
    return model


def record_quantized_formats(model: Any, ctx: Any) -> None:
    """Record each quantized Linear's stored format from the compressed-tensors scheme attached to it: scales in
    their own dtype (the model's, unless the scheme names one), asymmetric zero points packed at the weights'
    width (as `pack-quantized` stores them)."""
    for name, module in model.named_modules():
        scheme = getattr(module, "quantization_scheme", None)
        weights = getattr(scheme, "weights", None) if scheme is not None else None
        if weights is None:
            continue
        group = weights.group_size if str(getattr(weights.strategy, "value", weights.strategy)) == "group" else None
        scale = getattr(module, "weight_scale", None)
        scale_bits = 8 * scale.element_size() if scale is not None else 16
        ctx.set_tensor_format(
            f"{name}.weight",
            TensorFormat(
                bits=weights.num_bits,
                group_size=group,
                scale_bits=scale_bits,
                zero_bits=0 if weights.symmetric else weights.num_bits,
                format="pack-quantized",
            ),
        )


def weight_scheme(bits: int, group_size: int, symmetric: bool, actorder: str | None = None):
    """A compressed-tensors weight-only scheme (W{bits}A16) for every Linear."""
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    args = dict(num_bits=bits, type="int", symmetric=symmetric)
    if group_size == -1:
        args.update(strategy="channel")
    else:
        args.update(strategy="group", group_size=group_size)
    if actorder and actorder != "none":
        args.update(actorder=actorder)
    return {"group_0": QuantizationScheme(targets=["Linear"], weights=QuantizationArgs(**args))}


def calibration_estimate(spec: Any, params: dict[str, Any]) -> Resources:
    """Memory for one decoder layer's calibration activations and Hessians, and rough CPU seconds."""
    samples, seq = params.get("samples", 64), params.get("seq_len", 512)
    widest = max(spec.hidden_size, spec.intermediate_size)
    activations = 4 * samples * seq * widest * 3
    hessians = 4 * widest * widest * 7
    seconds = spec.num_parameters * samples * seq * CPU_SECONDS_PER_PARAM_TOKEN
    return Resources(peak_memory_bytes=activations + hessians, seconds=seconds)


CALIBRATION = [
    Choice(name="samples", options=[16, 32, 64, 128], default=32, help="calibration texts"),
    Choice(name="seq_len", options=[256, 512], default=512, help="tokens per calibration text"),
]


class LLMCompressorMethod(Method):
    """A method run through llm-compressor's oneshot: calibrated, and left out when the library is missing."""

    backends = ("llmcompressor", "compressed-tensors")

    def applies_to(self, spec):
        return llmcompressor_missing()

    def write(self, model: Any, folder: Path, ctx: Any) -> bool:
        """llm-compressor's `save_pretrained` packs the weights in place to write them; they are unpacked again
        afterwards, so the candidate stays the model the evaluators measure."""
        if not getattr(model.save_pretrained, "_overridden", False):
            return False  # a later step replaced the model (bitsandbytes reloads it): not llm-compressor's to write
        from compressed_tensors.compressors import ModelCompressor

        model.save_pretrained(folder)
        if any(getattr(m, "quantization_scheme", None) is not None for m in model.modules()):
            ModelCompressor.from_pretrained_model(model).decompress_model(model)
        return True

    def estimate(self, spec, params):
        return calibration_estimate(spec, params)
