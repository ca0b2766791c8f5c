"""Peak memory of inference: the weights held in memory plus the activation peak of one prefill.

On CUDA the allocator's peak is read; on CPU the process RSS is sampled every millisecond during the
forward pass and its rise above the starting RSS is taken as the activation peak. Before that forward, memory the
warm-up freed is handed back to the OS (glibc's `malloc_trim`): otherwise glibc keeps it in its heap, the measured
forward reuses it, and the rise shows only part of the peak.
"""

from __future__ import annotations

import threading

from acf import Evaluator, Measurement, Metric

from .scoring import model_device


def _cpu_peak_rise(fn) -> int:
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


class PeakMemory(Evaluator):
    name = "memory"
    deterministic = False  # a timing/reading of this machine: reused only on the same hardware
    description = "peak inference memory (weights in memory + activation peak of one prefill)"
    metrics = (
        Metric(name="peak_memory_mb", direction="min", unit="MB", category="memory", description="peak inference memory"),
    )
    option_defaults = {"prompt_len": 128}

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        import torch

        from acf.toolkit import model_bytes

        device = model_device(model)
        prompt = torch.zeros((1, self.options["prompt_len"]), dtype=torch.long, device=device)

        def forward():
            with torch.inference_mode():
                model(input_ids=prompt, use_cache=True)

        weights = model_bytes(model)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            base = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
            forward()
            torch.cuda.synchronize(device)
            activations = torch.cuda.max_memory_allocated(device) - base
        else:
            forward()  # warm-up: first-call allocations are not the model's steady state
            release_freed_memory()
            activations = _cpu_peak_rise(forward)
        return {"peak_memory_mb": Measurement.exact((weights + activations) / 1e6, unit="MB", fidelity=fidelity)}
