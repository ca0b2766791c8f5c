"""The llama.cpp worker process (`llamacpp_worker`), which the `llama.cpp` runtime deploys GGUF files in and the
`gguf` method quantizes with: one JSON request, one JSON reply; a crash or a hang there is an error here."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from acf import AcfError

# The GGUF types the `gguf` method makes (llama.cpp's names), and the full-precision ones.
GGUF_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K")
FULL = ("F32", "F16")
TIMEOUT_S = 600.0
INSTALL = "pip install 'acf[llamacpp]' (llama-cpp-python compiles llama.cpp: minutes)"


def llama_cpp_missing() -> str | None:
    """Why llama.cpp cannot run here (for `Runtime.unavailable` and `Method.applies_to`), or None."""
    if find_spec("llama_cpp") is None:
        return f"it needs the 'llama-cpp-python' package, which is not installed: {INSTALL}"
    return None


def threads() -> int:
    import torch

    return torch.get_num_threads()


class RuntimeProcess:
    """The llama.cpp worker process (`llamacpp_worker`): one JSON request, one JSON reply."""

    def __init__(self, timeout_s: float = TIMEOUT_S, command: list[str] | None = None):
        self.timeout_s = timeout_s
        self.stderr = tempfile.TemporaryFile()
        command = command or [sys.executable, "-m", "acf_plugins_builtin.shared.llamacpp_worker"]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def request(self, op: str, timeout_s: float | None = None, **args: Any) -> dict[str, Any]:
        limit = timeout_s or self.timeout_s
        try:
            self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RuntimeError(self._died(op)) from None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(limit):
                self.close()
                raise RuntimeError(f"llama.cpp runtime did not answer {op!r} within {limit:.0f} s (killed)")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(self._died(op))
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise RuntimeError(f"llama.cpp runtime failed in {op!r}: {reply['error']}")
        return reply

    def _died(self, op: str) -> str:
        code = self.proc.wait(timeout=10)
        self.stderr.seek(0)
        tail = self.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
        return f"llama.cpp runtime process died during {op!r} (exit code {code}): {' | '.join(tail)}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def quantize_gguf(source: Path, target: Path, gguf_type: str) -> Path:
    """llama.cpp's own quantizer, in the runtime process (a crash there is an error here, not a dead run)."""
    process = RuntimeProcess()
    try:
        process.request("quantize", source=str(source), target=str(target), type=gguf_type, threads=threads())
    except RuntimeError as exc:
        raise AcfError(f"GGUF {gguf_type} quantization failed: {exc}") from None
    finally:
        process.close()
    return target
