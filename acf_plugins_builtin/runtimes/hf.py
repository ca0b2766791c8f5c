"""The `hf` runtime: the candidate as transformers runs it, in this process.

Native for dense weights (fp32, bf16, fp16) and bitsandbytes layers. Anything else — weights quantized in
simulation (rtn, gptq, awq, autoround keep dequantized floats), masked sparsity — runs here as the dense
model it is in memory, and its cost is marked `simulated`.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from acf import Deployment, Runtime
from acf.toolkit import model_device
from acf_plugins_builtin.shared.process import TIMEOUT_S, RuntimeProcess

NATIVE = (
    "dense-float32",
    "dense-bfloat16",
    "dense-float16",
    "bitsandbytes-int8",
    "bitsandbytes-nf4",
    "bitsandbytes-fp4",
)


def sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


class HFRuntime(Runtime):
    name = "hf"
    fallback = True
    description = "transformers in this process (native: dense fp32/bf16/fp16 and bitsandbytes)"
    native_formats = NATIVE

    def deploy(self, model: Any, ctx: Any, fmt: str) -> "HFDeployment":
        return HFDeployment(model, fmt, simulated=not self.runs_natively(fmt))

    def load(self, path: Path, fmt: str) -> "HFFolder":
        return HFFolder(Path(path), fmt, simulated=not self.runs_natively(fmt))

    def serve_command(self, path: Path) -> str:
        return f'AutoModelForCausalLM.from_pretrained("{path}") in transformers, or vllm serve {path}'


class HFFolder(Deployment):
    """A Hugging Face folder loaded by transformers in a worker process of its own (`hf_worker`): what `acf export`
    checks an exported folder on, as its user would load it."""

    runtime = "hf"
    scores_tokens = True

    def __init__(self, folder: Path, fmt: str, simulated: bool):
        self.folder, self.format, self.simulated = folder, fmt, simulated
        self.process: RuntimeProcess | None = None

    def score_tokens(self, tokens: list[int]) -> list[float]:
        if self.process is None:
            command = [sys.executable, "-m", "acf_plugins_builtin.runtimes.hf_worker"]
            self.process = RuntimeProcess(TIMEOUT_S, command, "transformers worker")
            self.process.request("load", path=str(self.folder))
        return self.process.request("score", tokens=list(tokens))["logprobs"]

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None


class HFDeployment(Deployment):
    runtime = "hf"

    def __init__(self, model: Any, fmt: str, simulated: bool):
        self.model, self.format, self.simulated = model, fmt, simulated
        self.device = model_device(model)

    def _prompt(self, batch: int, length: int, seed: int):
        import torch

        vocab = self.model.get_input_embeddings().weight.shape[0]
        gen = torch.Generator().manual_seed(seed)
        return torch.randint(0, vocab, (batch, length), generator=gen).to(self.device)

    def _generate(self, prompt, steps: int) -> tuple[float, float]:
        """Prefill `prompt` and decode `steps` more tokens greedily with the KV cache: (prefill s, total s)."""
        import torch

        with torch.inference_mode():
            sync(self.device)
            started = time.perf_counter()
            out = self.model(input_ids=prompt, use_cache=True)
            sync(self.device)
            prefilled = time.perf_counter()
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            for _ in range(steps):
                out = self.model(input_ids=token, past_key_values=past, use_cache=True)
                past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            sync(self.device)
        return prefilled - started, time.perf_counter() - started

    def weight_bytes(self) -> int:
        from acf.toolkit import model_bytes

        return model_bytes(self.model)

    def prefill_decode(self, prompt_len: int, new_tokens: int, seed: int) -> tuple[float, float]:
        prefill, total = self._generate(self._prompt(1, prompt_len, seed), new_tokens)
        return prefill, new_tokens / (total - prefill)

    def generate_seconds(self, batch: int, prompt_len: int, new_tokens: int, seed: int) -> float:
        return self._generate(self._prompt(batch, prompt_len, seed), new_tokens - 1)[1]

    def peak_memory_bytes(self, prompt_len: int) -> int:
        """The weights held plus the activation peak of one prefill. On CUDA the allocator's peak; on CPU the
        process RSS sampled every millisecond during the forward pass, its rise above the start, after the
        warm-up's freed memory is handed back to the OS (else glibc's heap reuses it and hides the peak)."""
        import torch

        from acf.toolkit import model_bytes

        prompt = torch.zeros((1, prompt_len), dtype=torch.long, device=self.device)

        def forward():
            with torch.inference_mode():
                self.model(input_ids=prompt, use_cache=True)

        weights = model_bytes(self.model)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            forward()
            torch.cuda.synchronize(self.device)
            return weights + torch.cuda.max_memory_allocated(self.device) - base
        forward()  # warm-up: first-call allocations are not the model's steady state
        release_freed_memory()
        return weights + cpu_peak_rise(forward)


def cpu_peak_rise(fn) -> int:
    """How far this process's RSS rises above where it starts while `fn` runs (sampled every millisecond)."""
    import psutil

    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            done.wait(0.001)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    peak[0] = max(peak[0], proc.memory_info().rss)
    return max(0, peak[0] - start)


def release_freed_memory() -> None:
    """Return the heap memory freed so far to the OS, where the C library can (glibc); elsewhere a no-op."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass
