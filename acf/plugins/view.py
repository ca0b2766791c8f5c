"""What a searcher may see of the run it proposes for (`Searcher.attach`): read-only, plain data, and a place to
record its own work in the run directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from acf.types.config import RunConfig
from acf.types.frontier import Frontier
from acf.types.measurement import Measurement
from acf.types.objectives import Metric
from acf.types.results import EpisodeResult
from acf.types.space import Space
from acf.types.spec import ModelSpec


@dataclass
class RunView:
    spec: ModelSpec
    space: Space
    methods: dict[str, str]  # name → description
    objectives: list[Metric]
    constraints: list[str]
    baseline: dict[str, Measurement]
    episodes: int
    seed: int
    config: RunConfig
    candidates: list[EpisodeResult] = field(default_factory=list)  # the results so far (kept up to date)
    frontier: Callable[[], Frontier] | None = None
    # point → (the point as the run would run it, or None) and why not: what a `--strategy` file goes through
    validate: Callable[[dict[str, Any]], tuple[dict[str, Any] | None, str | None]] | None = None
    # a searcher's own records (its rounds with an LLM, say), by number: written atomically, read back on resume
    save_record: Callable[[int, dict[str, Any]], None] | None = None
    load_record: Callable[[int], dict[str, Any] | None] | None = None
