"""llama.cpp's own quantization (Q8_0 … Q2_K): the candidate is written as a GGUF file and quantized by llama.cpp
(`llama_model_quantize`, in the runtime's process); the file is what the `llama.cpp` runtime deploys and times.

The model handed on holds the file's weights, dequantized exactly (the `gguf` package's decoders), so every
evaluator that runs in transformers sees the weights the file stores. The 4-bit and lower types are made with an
importance matrix (`imatrix`, default on: what llama.cpp's users do for them): each input column's mean squared
activation over the run's held-out calibration text, collected in transformers as `llama-imatrix` collects it
(that tool is not in llama-cpp-python) and passed to llama.cpp's quantizer; computed once per model content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acf import Choice, Method, Resources, Space, Stage, TensorFormat
from acf_plugins_builtin.methods.calibration import calibration_chunks, forward_seconds

# Bits per weight of each type, scales included (llama.cpp's `llama-quantize` table, for the 7B reference: a
# K-quant mix gives some tensors more bits). The pre-flight estimate; the size is read from the file.
TYPE_BITS = {"Q8_0": 8.5, "Q6_K": 6.5625, "Q5_K_M": 5.69, "Q4_K_M": 4.89, "Q3_K_M": 3.91, "Q2_K": 3.35}
# The types an importance matrix is used for (llama.cpp's users make ≤ 4-bit K-quants with one), and its text.
IMATRIX_TYPES = ("Q4_K_M", "Q3_K_M", "Q2_K")
IMATRIX_SAMPLES, IMATRIX_SEQ_LEN = 16, 512


class GGUFQuant(Method):
    name = "gguf"
    description = "llama.cpp's own quantization (GGUF Q8_0 … Q2_K), deployed on the llama.cpp runtime"
    stage = Stage.QUANTIZE
    exclusive_stage = True
    backends = ("llama_cpp_python", "gguf")

    def applies_to(self, spec) -> str | None:
        from acf_plugins_builtin.shared.gguf_file import gguf_unsupported
        from acf_plugins_builtin.shared.llamacpp_process import llama_cpp_missing

        return llama_cpp_missing() or gguf_unsupported({"model_type": spec.model_type})

    def space(self, spec) -> Space:
        return Space(
            params=[
                Choice(name="type", options=list(TYPE_BITS), default="Q4_K_M", help="llama.cpp quantization type"),
                Choice(
                    name="imatrix",
                    options=[True, False],
                    default=True,
                    when={"type": list(IMATRIX_TYPES)},
                    help="an importance matrix from the calibration text (4-bit and lower types)",
                ),
            ]
        )

    def estimate(self, spec, params) -> Resources:
        # the F32 file and the quantized one on disk; the model read back once; the importance matrix's forward pass
        imatrix = forward_seconds(spec, IMATRIX_SAMPLES, IMATRIX_SEQ_LEN) if uses_imatrix(params) else 0.0
        return Resources(
            peak_memory_bytes=spec.num_parameters * 4,
            disk_bytes=spec.num_parameters * 5,
            seconds=spec.num_parameters / 2e7 + imatrix,
        )

    def apply(self, model: Any, params: dict[str, Any], ctx) -> Any:
        import shutil
        import tempfile

        from acf_plugins_builtin.shared.gguf_file import read_gguf_weights, write_gguf
        from acf_plugins_builtin.shared.imatrix import importance_matrix
        from acf_plugins_builtin.shared.llamacpp_process import quantize_gguf

        gguf_type = params["type"]
        imatrix = None
        if uses_imatrix(params):
            imatrix = importance_matrix(model, calibration_chunks(ctx, IMATRIX_SAMPLES, IMATRIX_SEQ_LEN))
        scratch = Path(tempfile.mkdtemp(prefix="acf-gguf-"))
        try:
            full = write_gguf(model, Path(ctx.spec.path), scratch / "model-F32.gguf")
            target = quantize_gguf(full, scratch / f"model-{gguf_type}.gguf", gguf_type, imatrix=imatrix)
            full.unlink()
            stored = read_gguf_weights(model, target)
            for name, bits in stored.items():  # every tensor as the file stores it (llama.cpp mixes types per tensor)
                ctx.set_tensor_format(
                    name, TensorFormat(bits=bits, group_size=None, scale_bits=0, format=f"gguf-{gguf_type}")
                )
            # the file is the candidate's deliverable: kept with the other artifacts, found by ctx.checkpoint
            kind = f"gguf-{gguf_type}"
            ctx.artifact(model, kind, build=lambda folder: shutil.move(str(target), folder / target.name))
            ctx.records.deliverable = kind
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        ctx.record(gguf_type=gguf_type, imatrix=imatrix is not None, file_mb=ctx.checkpoint_bytes(model)[0] / 1e6)
        return model


def uses_imatrix(params: dict[str, Any]) -> bool:
    return params.get("type", "Q4_K_M") in IMATRIX_TYPES and params.get("imatrix", True)
