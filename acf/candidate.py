"""A candidate: one episode's strategy with its status, measurements, reward and constraint verdict."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from acf.measure import Measurement
from acf.strategy import Strategy


class Candidate(BaseModel):
    id: str
    episode: int
    strategy: Strategy
    point: dict[str, Any] = Field(default_factory=dict, description="the searcher's point, for replay")
    status: Literal["ok", "failed", "skipped"]
    reason: str | None = None
    measurements: dict[str, Measurement] = Field(default_factory=dict)
    losses: list[float] | None = None
    reward: float | None = None
    feasible: bool = False
    violations: dict[str, float] = Field(default_factory=dict, description="constraint text → violation")
    cached: bool = False
    seconds: float = 0.0
    export_path: str | None = None
    gpu_memory_peak_mb: float | None = Field(None, description="device memory in use at its peak (NVML), GPU only")
    promoted: dict[str, Measurement] = Field(default_factory=dict, description="task metrics at the full fidelity")

    def value(self, metric: str) -> float:
        return self.measurements[metric].value
