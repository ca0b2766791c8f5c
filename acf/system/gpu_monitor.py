"""GPU memory watched during an episode through NVML (`nvidia-ml-py`, extra `gpu`), where present.

The CUDA allocator's own peak (the `memory` evaluator) misses other processes and the CUDA context; NVML sees
the whole device. On CPU, or without NVML, the monitor does nothing and `peak_mb` stays None.
"""

from __future__ import annotations

import threading


class GpuMemoryMonitor:
    def __init__(self, device: str, interval_s: float = 0.2):
        self.device, self.interval_s = device, interval_s
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _handle(self):
        if not self.device.startswith("cuda"):
            return None
        try:
            import pynvml

            pynvml.nvmlInit()
            index = int(self.device.partition(":")[2] or 0)
            return pynvml, pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no NVML library or driver: nothing to watch
            return None

    def __enter__(self) -> "GpuMemoryMonitor":
        found = self._handle()
        if found is None:
            return self
        nvml, handle = found

        def sample():
            while True:
                used = nvml.nvmlDeviceGetMemoryInfo(handle).used / 1e6
                self.peak_mb = used if self.peak_mb is None else max(self.peak_mb, used)
                if self._stop.wait(self.interval_s):
                    return

        self._thread = threading.Thread(target=sample, daemon=True, name="acf-gpu-monitor")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
