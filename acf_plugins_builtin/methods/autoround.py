"""AutoRound weight quantization (Intel's auto-round): signed-gradient tuning of rounding and clipping per block."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from acf import Choice, Method, MissingBackendError, Resources, Space, Stage, TensorFormat
from acf.toolkit import compressible_linears

from .calibration import calibration_chunks

# Seen on 2 CPU cores: W4 g128, 50 iterations, SmolLM2-135M ≈ 490 s.
CPU_SECONDS_PER_PARAM_ITER = 490 / (134.5e6 * 50)


def _missing() -> str | None:
    if importlib.util.find_spec("auto_round") is None:
        return "auto-round is not installed: pip install 'acf[autoround]'"
    return None


class AutoRoundMethod(Method):
    name = "autoround"
    backends = ("auto-round",)
    description = "AutoRound W{2,3,4,8}A16 (auto-round), exported as compressed-tensors"
    stage = Stage.QUANTIZE
    exclusive_stage = True

    def applies_to(self, spec):
        return _missing()

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(name="bits", options=[4, 3, 8, 2]),
                Choice(name="group_size", options=list(spec.valid_group_sizes)),
                Choice(name="symmetric", options=[True, False]),
                Choice(name="iters", options=[50, 200], default=50, help="tuning steps per block"),
                Choice(name="samples", options=[32, 64, 128], default=32),
                Choice(name="seq_len", options=[256, 512], default=256),
            ]
        )

    def estimate(self, spec, params) -> Resources:
        widest = max(spec.hidden_size, spec.intermediate_size)
        return Resources(
            peak_memory_bytes=4 * params.get("samples", 32) * params.get("seq_len", 256) * widest * 4,
            seconds=spec.num_parameters * params.get("iters", 50) * CPU_SECONDS_PER_PARAM_ITER,
        )

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        if _missing():
            raise MissingBackendError("auto-round", "autoround", "the autoround method")
        import torch
        from auto_round import AutoRound

        from acf.toolkit import quiet_progress_bars

        chunks = [torch.tensor([c]) for c in calibration_chunks(ctx, params["samples"], params["seq_len"])]
        device = next(model.parameters()).device
        with quiet_progress_bars():
            tuner = AutoRound(
                model,
                ctx.tokenizer,
                bits=params["bits"],
                group_size=params["group_size"],
                sym=params["symmetric"],
                iters=params["iters"],
                nsamples=len(chunks),
                seqlen=params["seq_len"],
                dataset=chunks,
                batch_size=min(8, len(chunks)),
                seed=ctx.seed,
                enable_torch_compile=False,
                device_map="cpu" if device.type == "cpu" else device.index or 0,
            )
            quantized, _ = tuner.quantize()
        ctx.records.memo(self.name)["tuner"] = tuner  # export writes through auto-round's own compressed-tensors writer
        fmt = TensorFormat(
            bits=params["bits"],
            group_size=None if params["group_size"] == -1 else params["group_size"],
            scale_bits=16,
            zero_bits=0 if params["symmetric"] else params["bits"],
            format="pack-quantized",
        )
        for name, _ in compressible_linears(quantized):
            ctx.set_tensor_format(f"{name}.weight", fmt)
        return quantized

    def write(self, model: Any, folder: Path, ctx) -> bool:
        tuner = ctx.records.memo(self.name).get("tuner")
        if tuner is None:
            return False
        tuner.save_quantized(str(folder), format="llm_compressor", inplace=False)  # keep `model` usable
        return True
