"""What a run writes about its candidates: each episode's result, the promotion record and the final results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from acf.types.measurement import Measurement
from acf.types.objectives import Metric
from acf.types.strategy import Strategy


class EpisodeResult(BaseModel):
    """One episode: its strategy, status (ok / failed / skipped + reason), measurements, reward and verdict."""

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
    steps: list[dict[str, Any]] = Field(
        default_factory=list, description="what each step recorded (training loss, dropped layers, …), in order"
    )
    # With candidates in parallel: how many results the searcher had been told when it proposed this one, and
    # this result's place in the order the searcher was told them (a resumed run replays both exactly).
    asked_after: int | None = None
    told: int | None = None
    worker: str | None = Field(None, description="where it ran (--executor ray: the worker)")
    attempts: int = Field(1, description="tries it took (a worker that died is replaced and the candidate retried)")
    rationale: str | None = Field(None, description="why the searcher proposed it (the agent's LLM), when it says")

    def value(self, metric: str) -> float:
        return self.measurements[metric].value


class Promotion(BaseModel):
    """The most promising candidates re-scored at the task's full fidelity, ranked with ties for noise."""

    fidelity: str
    metric: str
    screened_on: str
    candidates: list[str]
    scores: dict[str, Measurement]
    ranking: list[list[str]]


class EpisodeCounts(BaseModel):
    ok: int = 0
    failed: int = 0
    skipped: int = 0


class FinalResults(BaseModel):
    """`final_results.json`: the frontier's members, the recommended pick and how the run went."""

    model: str
    dataset: str
    episodes: EpisodeCounts
    objectives: list[Metric]
    constraints: list[str]
    baseline: dict[str, Measurement]
    hypervolume: float
    frontier: list[str]
    recommended: EpisodeResult | None = None
    recommended_reason: str = ""
    blocking_constraint: str | None = None
    promotion: Promotion | None = None
    seconds: float = 0.0
    searcher: dict[str, Any] = Field(default_factory=dict, description="the searcher's own counts (an LLM's rounds…)")
