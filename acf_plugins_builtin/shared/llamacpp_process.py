"""The llama.cpp worker process (`llamacpp_worker`), which the `llama.cpp` runtime deploys GGUF files in and the
`gguf` method quantizes with: one JSON request, one JSON reply; a crash or a hang there is an error here."""

from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

from acf import AcfError
from acf_plugins_builtin.shared.process import TIMEOUT_S, RuntimeProcess

# The GGUF types the `gguf` method makes (llama.cpp's names), and the full-precision ones.
GGUF_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
FULL = ("F32", "F16")
INSTALL = "pip install 'acf[llamacpp]' (llama-cpp-python compiles llama.cpp: minutes)"


def llama_cpp_missing() -> str | None:
    """Why llama.cpp cannot run here (for `Runtime.unavailable` and `Method.applies_to`), or None."""
    if find_spec("llama_cpp") is None:
        return f"it needs the 'llama-cpp-python' package, which is not installed: {INSTALL}"
    return None


def threads() -> int:
    import torch

    return torch.get_num_threads()


def quantize_gguf(
    source: Path,
    target: Path,
    gguf_type: str,
    *,
    imatrix: Path | None = None,
    tensor_types: list[tuple[str, str]] | None = None,
) -> Path:
    """llama.cpp's own quantizer, in the runtime process (a crash there is an error here, not a dead run): the file
    type `gguf_type`, with an importance matrix (`acf_plugins_builtin.shared.imatrix`) and per-tensor types
    ([regex, GGML type], as `llama-quantize --tensor-type`) where given."""
    process = llama_cpp_process()
    try:
        process.request(
            "quantize",
            source=str(source),
            target=str(target),
            type=gguf_type,
            threads=threads(),
            imatrix=str(imatrix) if imatrix else None,
            tensor_types=[list(t) for t in tensor_types or []],
        )
    except RuntimeError as exc:
        raise AcfError(f"GGUF {gguf_type} quantization failed: {exc}") from None
    finally:
        process.close()
    return target


def llama_cpp_process(timeout_s: float = TIMEOUT_S) -> RuntimeProcess:
    """A fresh llama.cpp worker process (`llamacpp_worker`)."""
    return RuntimeProcess(
        timeout_s, [sys.executable, "-m", "acf_plugins_builtin.shared.llamacpp_worker"], "llama.cpp runtime"
    )
