"""The Python API the CLI is a thin layer over: `acf.compress(...)`, `acf.resume(...)`, `acf.load_run(...)`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acf.candidate import Candidate
from acf.config import RunConfig
from acf.frontier import Frontier
from acf.progress import Progress, RichProgress
from acf.store import RunStore


@dataclass
class CompressResult:
    """What a finished run found: the frontier, the recommended pick and every candidate."""

    run_dir: Path
    frontier: Frontier
    candidates: list[Candidate]

    @property
    def recommended(self) -> Candidate | None:
        return next((c for c in self.candidates if c.id == self.frontier.recommended), None)

    @property
    def baseline(self) -> dict[str, Any]:
        return self.frontier.baseline


def default_run_dir(model: str, dataset: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model.rstrip("/").split("/")[-1]).strip("-") or "model"
    return Path("runs") / f"{slug}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"


def compress(model: str, dataset: str, *, episodes: int = 8, searcher: str = "nevergrad", seed: int = 0,
             run_dir: str | Path | None = None, resume: bool = False, constraints: list[str] | None = None,
             reward: str = "balanced", weights: dict[str, float] | None = None,
             objectives: list[str] | None = None, methods: list[str] | None = None, max_steps: int = 2,
             strategies: list[dict[str, Any]] | None = None,
             evaluators: list[str] | None = None, evaluator_options: dict[str, dict[str, Any]] | None = None,
             episode_budget_s: float | None = None, episode_timeout_s: float | None = None, promote: int = 0,
             track: list[str] | None = None, track_uri: str | None = None, device: str = "auto", dtype: str = "auto",
             trust_remote_code: bool = False, progress: bool | Progress = False) -> CompressResult:
    """Search for compressed versions of `model` on task `dataset`; see `acf compress --help`."""
    from acf.coordinator import Run

    config = RunConfig(
        model=model, dataset=dataset, episodes=episodes, searcher=searcher, seed=seed, reward=reward,
        weights=weights or {}, objectives=objectives or [], constraints=constraints or [], methods=methods or [],
        max_steps=max_steps, strategies=strategies or [], evaluators=evaluators or [], evaluator_options=evaluator_options or {},
        episode_budget_s=episode_budget_s, episode_timeout_s=episode_timeout_s, promote=promote, track=track or [], track_uri=track_uri, device=device, dtype=dtype, trust_remote_code=trust_remote_code,
    )
    if run_dir is None:
        if resume:
            from acf.errors import RunStoreError

            raise RunStoreError("--resume needs the --run-dir of the run to continue")
        run_dir = default_run_dir(model, dataset)
    run = Run(config, Path(run_dir), resume=resume, progress=_reporter(progress))
    run.prepare()
    frontier = run.execute()
    return CompressResult(run_dir=Path(run_dir), frontier=frontier, candidates=run.candidates)


def open_run(run_dir: str | Path, *, progress: bool | Progress = False):
    """A prepared `Run` with the stored settings of `run_dir` (for resuming it or rebuilding its candidates)."""
    from acf.coordinator import Run
    from acf.errors import RunStoreError

    store = RunStore(Path(run_dir))
    if not store.exists():
        raise RunStoreError(f"nothing to resume: {run_dir} holds no run (no run_config.json)")
    config = RunConfig.model_validate(store.read("run_config.json"))
    run = Run(config, Path(run_dir), resume=True, progress=_reporter(progress))
    run.prepare()
    return run


def resume(run_dir: str | Path, *, progress: bool | Progress = False) -> CompressResult:
    """Continue a killed or interrupted run with its stored settings; finished episodes are kept."""
    run = open_run(run_dir, progress=progress)
    frontier = run.execute()
    return CompressResult(run_dir=Path(run_dir), frontier=frontier, candidates=run.candidates)


def load_run(run_dir: str | Path) -> CompressResult:
    """Read a run directory (finished or not) without running anything."""
    from acf.errors import RunStoreError

    store = RunStore(Path(run_dir))
    if not store.exists():
        raise RunStoreError(f"{run_dir} is not an acf run directory (no run_config.json)")
    if not store.has("pareto_frontier.json"):
        raise RunStoreError(f"{run_dir} has no pareto_frontier.json yet (no episode has finished)")
    frontier = Frontier.model_validate(store.read("pareto_frontier.json"))
    candidates = [Candidate.model_validate(r) for r in store.finished_episodes()]
    return CompressResult(run_dir=Path(run_dir), frontier=frontier, candidates=candidates)


def find_candidate(run_dir: str | Path, candidate_id: str | None = None) -> Candidate:
    """A finished, ok candidate of a run (default: the recommended pick), or a clear error."""
    from acf.errors import RunStoreError

    result = load_run(run_dir)
    candidate_id = candidate_id or result.frontier.recommended
    candidate = next((c for c in result.candidates if c.id == candidate_id), None)
    if candidate is None:
        known = ", ".join(c.id for c in result.candidates if c.status == "ok") or "none"
        raise RunStoreError(f"{run_dir} has no candidate {candidate_id!r}; finished candidates: {known}")
    if candidate.status != "ok":
        raise RunStoreError(f"candidate {candidate_id} {candidate.status} ({candidate.reason}); only ok candidates can be used")
    return candidate


def _reporter(progress: bool | Progress) -> Progress:
    if isinstance(progress, Progress):
        return progress
    return RichProgress() if progress else Progress()
