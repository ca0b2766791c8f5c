"""The pre-flight check: whether a strategy fits this machine (memory, disk) and the episode budget, before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acf.errors import InfeasibleError
from acf.system.machine import free_disk_bytes, free_memory_bytes, model_bytes
from acf.types.spec import ModelSpec
from acf.types.strategy import Strategy

# Headroom the pre-flight check keeps free, as a fraction of what the OS reports available.
MEMORY_HEADROOM = 0.9
# Default per-episode budget of estimated compression seconds, and how much faster a GPU runs the estimates.
DEFAULT_EPISODE_BUDGET_S = {"cpu": 30.0, "cuda": 900.0}
GPU_SPEEDUP = 20.0


class PreflightRefused(Exception):
    """The pre-flight check refused a strategy (it would not fit this machine or the episode budget)."""


class Preflight:
    """What a strategy's steps estimate they need (`Method.estimate`), against what this machine has free."""

    def __init__(self, spec: ModelSpec, device: str, budget_s: float | None, work_dir: Path, artifacts_dir: Path):
        self.spec, self.device, self.work_dir, self.artifacts_dir = spec, device, work_dir, artifacts_dir
        self.budget_s = budget_s or DEFAULT_EPISODE_BUDGET_S["cuda" if device.startswith("cuda") else "cpu"]

    def seconds(self, method: Any, params: dict[str, Any]) -> float:
        seconds = method.estimate(self.spec, params).seconds
        return seconds / GPU_SPEEDUP if self.device.startswith("cuda") else seconds

    def over_budget(self, strategy: Strategy, methods: dict[str, Any]) -> str | None:
        """Why a strategy's estimated compression time exceeds the episode budget, or None."""
        total = sum(self.seconds(methods[s.method], s.params) for s in strategy.steps)
        if total > self.budget_s:
            return f"estimated {total:.0f} s of compression, over the {self.budget_s:.0f} s episode budget"
        return None

    def check_base(self, model_name: str, dtype: str) -> None:
        """The uncompressed model must fit before anything else is done."""
        dtype = dtype if dtype != "auto" else ("float32" if self.device == "cpu" else self.spec.dtype)
        need, free = self.spec.memory_bytes[dtype], free_memory_bytes(self.device)
        if need > free * MEMORY_HEADROOM:
            raise InfeasibleError(
                f"{model_name} needs about {need / 2**30:.1f} GiB to load on {self.device}, "
                f"but only {free / 2**30:.1f} GiB is free",
                hint="use a smaller model or a machine with more memory",
            )

    def check(self, strategy: Strategy, methods: dict[str, Any], base_model: Any) -> None:
        """Raise `PreflightRefused` with the numbers when the strategy would not fit."""
        estimates = [methods[s.method].estimate(self.spec, s.params) for s in strategy.steps]
        need = model_bytes(base_model) + max(e.peak_memory_bytes for e in estimates)
        free = free_memory_bytes(self.device)
        notes = "".join(f" ({e.note})" for e in estimates if e.note)
        if need > free * MEMORY_HEADROOM:
            raise PreflightRefused(
                f"pre-flight: needs about {need / 2**30:.2f} GiB on {self.device}, {free / 2**30:.2f} GiB free{notes}"
            )
        over = self.over_budget(strategy, methods)
        if over:
            raise PreflightRefused(f"pre-flight: {over}")
        # the steps' scratch files in the run directory; the candidate's checkpoint (at most the base model's
        # size) in the artifact store
        for disk, where in (
            (sum(e.disk_bytes for e in estimates), self.work_dir),
            (model_bytes(base_model), self.artifacts_dir),
        ):
            free_disk = free_disk_bytes(where)
            if disk > free_disk:
                raise PreflightRefused(
                    f"pre-flight: needs about {disk / 2**30:.2f} GiB of disk in {where}, "
                    f"{free_disk / 2**30:.2f} GiB free{notes}"
                )
