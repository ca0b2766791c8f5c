"""Energy per generated token: NVML's energy counter on NVIDIA GPUs, RAPL on CPUs where readable,
otherwise an estimate (time × a documented power figure), marked `estimated`.

RAPL is read from the top-level package zones only (`intel-rapl:N` named `package-N`): their sub-zones (cores,
uncore, DRAM: `intel-rapl:N:M`) are parts of the package's count and would count twice. Counters wrap at
`max_energy_range_uj`. The energy is the whole device's during the run: idle power is not subtracted.
"""

from __future__ import annotations

import glob
import os
import re

from acf import Measurement, Metric
from acf_plugins_builtin.evaluators.costs.timing import TimingEvaluator

# Used only when no counter is readable: the power one busy CPU core draws under a dense matmul load, a
# round figure for current server parts (package TDP ÷ cores ≈ 5–15 W); documented in the README.
WATTS_PER_CPU_CORE = 10.0
POWERCAP = "/sys/class/powercap"


def rapl_package_zones(root: str = POWERCAP) -> list[str]:
    """The readable top-level RAPL package zones (folders), not their sub-zones."""
    zones = []
    for folder in sorted(glob.glob(os.path.join(root, "intel-rapl:*"))):
        if not re.fullmatch(r"intel-rapl:\d+", os.path.basename(folder)):
            continue  # a sub-zone (intel-rapl:0:0): part of its package's count
        try:
            name = open(os.path.join(folder, "name")).read().strip()
        except OSError:
            continue
        if name.startswith("package") and os.access(os.path.join(folder, "energy_uj"), os.R_OK):
            zones.append(folder)
    return zones


class EnergyCounter:
    """Joules consumed so far by the device: `read()`; `source` names where it comes from."""

    def __init__(self, device):
        self.device, self.source, self._read = device, "estimate", None
        if device.type == "cuda":
            self._nvml()
        else:
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
        zones = rapl_package_zones()
        try:
            ranges = [int(open(os.path.join(z, "max_energy_range_uj")).read()) for z in zones]
            last = [int(open(os.path.join(z, "energy_uj")).read()) for z in zones]
        except (OSError, ValueError):
            return
        if not zones:
            return
        total = [0]

        def read() -> float:
            # accumulate per-zone increments, adding the range back when a counter wrapped around
            for i, zone in enumerate(zones):
                now = int(open(os.path.join(zone, "energy_uj")).read())
                total[0] += now - last[i] if now >= last[i] else now + ranges[i] - last[i]
                last[i] = now
            return total[0] / 1e6  # µJ → J

        self.source, self._read = "rapl", read

    def read(self) -> float | None:
        return self._read() if self._read else None


class Energy(TimingEvaluator):
    name = "energy"
    description = (
        "joules per generated token, whole device, idle not subtracted (NVML on GPU, RAPL package zones on "
        "CPU, else an estimate marked estimated)"
    )
    metrics = (
        Metric(
            name="energy_j_per_token",
            direction="min",
            unit="J/token",
            category="energy",
            description="energy per generated token, batch 1",
        ),
    )
    option_defaults = {"prompt_len": 128, "new_tokens": 32, "repeats": 3}

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        import torch

        deployed = ctx.deployment(model)
        counter = EnergyCounter(deployed.device)
        o = self.options
        deployed.generate_seconds(1, o["prompt_len"], 2, ctx.seed)  # warm-up
        per_token = []
        for i in range(self.repeats(fidelity)):
            before = counter.read()
            seconds = deployed.generate_seconds(1, o["prompt_len"], o["new_tokens"], ctx.seed + i)
            after = counter.read()
            joules = (after - before) if before is not None else seconds * WATTS_PER_CPU_CORE * torch.get_num_threads()
            per_token.append(joules / o["new_tokens"])
        value = sorted(per_token)[len(per_token) // 2]
        return {
            "energy_j_per_token": Measurement(
                value=value,
                low=min(per_token),
                high=max(per_token),
                n=len(per_token),
                unit="J/token",
                fidelity=fidelity,
                estimated=counter.source == "estimate",
                **deployed.provenance(),
            )
        }
