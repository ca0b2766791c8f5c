"""Energy per generated token: NVML's energy counter on NVIDIA GPUs, RAPL on CPUs where readable,
otherwise an estimate (time × a documented power figure), marked `estimated`."""

from __future__ import annotations

import glob
import os

from acf import Evaluator, Measurement, Metric

from .throughput import decode_run

# Used only when no counter is readable: the power one busy CPU core draws under a dense matmul load, a
# round figure for current server parts (package TDP ÷ cores ≈ 5–15 W); documented in the README.
WATTS_PER_CPU_CORE = 10.0
RAPL = "/sys/class/powercap/intel-rapl:*/energy_uj"


class EnergyCounter:
    """Joules consumed so far by the device: `read()`; `source` names where it comes from."""

    def __init__(self, device):
        self.device, self.source, self._read = device, "estimate", None
        if device.type == "cuda":
            self._nvml()
        elif glob.glob(RAPL):
            self._rapl()

    def _nvml(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.device.index or 0)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises where unsupported
        except Exception:
            return
        self.source = "nvml"
        self._read = lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0  # mJ → J

    def _rapl(self) -> None:
        files = [f for f in glob.glob(RAPL) if os.access(f, os.R_OK)]
        try:
            [int(open(f).read()) for f in files]
        except OSError:
            return
        if files:
            self.source = "rapl"
            self._read = lambda: sum(int(open(f).read()) for f in files) / 1e6  # µJ → J (wrap-around ignored)

    def read(self) -> float | None:
        return self._read() if self._read else None


class Energy(Evaluator):
    name = "energy"
    deterministic = False  # a timing/reading of this machine: reused only on the same hardware
    description = "joules per generated token (NVML on GPU, RAPL on CPU, else an estimate marked estimated)"
    metrics = (Metric(name="energy_j_per_token", direction="min", unit="J/token", category="energy",
                      description="energy per generated token, batch 1"),)
    option_defaults = {"prompt_len": 128, "new_tokens": 32, "repeats": 3}

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        import torch

        from .scoring import model_device

        device = model_device(model)
        counter = EnergyCounter(device)
        o = self.options
        decode_run(model, 1, o["prompt_len"], 2, ctx.seed)  # warm-up
        per_token = []
        for i in range(o["repeats"]):
            before = counter.read()
            seconds = decode_run(model, 1, o["prompt_len"], o["new_tokens"], ctx.seed + i)
            after = counter.read()
            joules = (after - before) if before is not None else seconds * WATTS_PER_CPU_CORE * torch.get_num_threads()
            per_token.append(joules / o["new_tokens"])
        value = sorted(per_token)[len(per_token) // 2]
        return {"energy_j_per_token": Measurement(value=value, low=min(per_token), high=max(per_token), n=len(per_token),
                                                  unit="J/token", fidelity=fidelity, estimated=counter.source == "estimate")}
