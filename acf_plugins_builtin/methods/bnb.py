"""bitsandbytes quantization: LLM.int8 and 4-bit NF4/FP4 (optionally double-quantized), on CPU or CUDA.

The model is written to a scratch folder and loaded back through transformers with a `BitsAndBytesConfig`,
so the episode evaluates exactly what `from_pretrained` gives a user; exports use bitsandbytes' own
serialization. On CPU, bitsandbytes 0.50 repacks 4-bit weights for AVX512-BF16 kernels at the first forward
pass, and that layout does not survive `save_pretrained` → `from_pretrained` (reloaded weights dequantized
7× further from the originals, measured on a tiny Llama); acf keeps 4-bit layers in the standard layout.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from acf import Choice, Method, MissingBackendError, Resources, Space, Stage, TensorFormat
from acf.toolkit import compressible_linears

NF4_BLOCK = 64
DOUBLE_QUANT_BLOCK = 256


def _missing() -> str | None:
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed: pip install 'acf[bnb]'"
    return None


def unchanged(model: Any, ctx) -> bool:
    """True when `model` still equals the run's uncompressed model (the teacher), tensor for tensor."""
    import torch

    try:
        teacher = ctx.teacher
    except RuntimeError:
        return False
    mine, theirs = model.state_dict(), teacher.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def keep_standard_4bit_layout(model: Any) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for AVX512-BF16 CPU kernels (see the module docstring)."""
    from bitsandbytes.nn import Linear4bit

    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.support_avx512bf16_for_cpu = False


class _BitsAndBytes(Method):
    backends = ("bitsandbytes",)
    stage = Stage.QUANTIZE
    exclusive_stage = True

    def applies_to(self, spec):
        return _missing()

    def config(self, params: dict[str, Any]):
        raise NotImplementedError

    def formats(self, params: dict[str, Any]) -> TensorFormat:
        raise NotImplementedError

    def estimate(self, spec, params):
        # The dense copy on disk and a second load of the model while quantizing.
        return Resources(
            peak_memory_bytes=spec.memory_bytes["float32"],
            disk_bytes=spec.memory_bytes["float32"],
            seconds=spec.num_parameters / 5e7,
        )

    def prepare_reloaded(self, model: Any) -> None:
        keep_standard_4bit_layout(model)

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        if _missing():
            raise MissingBackendError("bitsandbytes", "bnb", f"the {self.name} method")
        import torch
        from transformers import AutoModelForCausalLM

        from acf.toolkit import quiet_progress_bars

        shapes = {name: (m.out_features, m.in_features) for name, m in compressible_linears(model)}
        device = next(model.parameters()).device
        # An unchanged model loads straight from its folder; a changed one is written to scratch space first.
        pristine = ctx.spec.path and unchanged(model, ctx)
        folder = Path(ctx.spec.path) if pristine else Path(tempfile.mkdtemp(prefix=f"acf-{self.name}-"))
        with quiet_progress_bars():
            if not pristine:
                model.save_pretrained(folder, safe_serialization=True)
            quantized = AutoModelForCausalLM.from_pretrained(
                folder,
                quantization_config=self.config(params),
                dtype=torch.float32,
                device_map={"": device.index if device.type == "cuda" else "cpu"},
            )
        quantized.eval()
        if not pristine:
            shutil.rmtree(folder, ignore_errors=True)
        keep_standard_4bit_layout(quantized)
        fmt = self.formats(params)
        for name, shape in shapes.items():
            ctx.set_tensor_format(f"{name}.weight", fmt.model_copy(update={"shape": shape}))
        return quantized


class Int8(_BitsAndBytes):
    name = "int8"
    description = "LLM.int8 via bitsandbytes (8-bit rows, fp16 outlier columns)"

    def space(self, spec) -> Space:
        return Space(params=[Choice(name="threshold", options=[6.0, 4.0, 8.0], help="outlier threshold")])

    def config(self, params):
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=params["threshold"])

    def formats(self, params):
        return TensorFormat(bits=8, group_size=None, scale_bits=32, format="bitsandbytes-int8")


class FourBit(_BitsAndBytes):
    name = "nf4"
    description = "4-bit NF4 or FP4 via bitsandbytes, optional double quantization (QLoRA's base)"

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(name="quant_type", options=["nf4", "fp4"]),
                Choice(name="double_quant", options=[True, False]),
            ]
        )

    def config(self, params):
        import torch
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=params["quant_type"],
            bnb_4bit_use_double_quant=params["double_quant"],
            bnb_4bit_compute_dtype=torch.float32,
        )

    def formats(self, params):
        # One absmax per 64 weights: fp32, or 8 bits plus an fp32 per 256 absmax values when double-quantized.
        scale = 8 + 32 / DOUBLE_QUANT_BLOCK if params["double_quant"] else 32
        return TensorFormat(
            bits=4, group_size=NF4_BLOCK, scale_bits=scale, format=f"bitsandbytes-{params['quant_type']}"
        )
