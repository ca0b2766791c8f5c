"""RunConfig: everything needed to run (and resume) a search; `run_config.json` is its dump."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class RunConfig(BaseModel):
    model: str
    dataset: str
    episodes: int = 8
    searcher: str = "nevergrad"
    seed: int = 0
    reward: str = "balanced"
    weights: dict[str, float] = Field(default_factory=dict, description="custom weights per metric; override the preset")
    objectives: list[str] = Field(default_factory=list, description="empty: the task metric, size_mb and the preset's extras")
    constraints: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list, description="empty: every registered method that applies")
    max_steps: int = 2
    strategies: list[dict[str, Any]] = Field(
        default_factory=list, description="strategies to try first (as given), before the searcher's own")
    evaluators: list[str] = Field(default_factory=list, description="empty: the task, size, latency and memory")
    evaluator_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    promote: int = Field(0, description="after the search, re-score this many promising candidates at the task's full fidelity")
    episode_budget_s: float | None = Field(
        None, description="most estimated seconds of compression work per episode; None: 30 on CPU, 900 on GPU")
    episode_timeout_s: float | None = Field(None, description="wall-clock limit of one episode (steps + evaluation)")
    track: list[str] = Field(default_factory=list, description="experiment trackers to mirror the run into")
    track_uri: str | None = Field(None, description="the trackers' URI (MLflow tracking URI); None: their default")
    device: str = "auto"
    dtype: str = "auto"
    trust_remote_code: bool = False

    def same_search(self, other: "RunConfig") -> list[str]:
        """Fields that differ from `other` (a resumed run must match the stored one)."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [k for k in mine if mine[k] != theirs[k]]


DEFAULT_COST_EVALUATORS = ("size", "latency", "memory")
