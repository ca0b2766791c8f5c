"""What an episode's outcome becomes: a result scored against the baseline, its line in the log, and, at the end,
the run's `FinalResults`."""

from __future__ import annotations

from typing import Any

from acf.search.reward import reward
from acf.types.config import RunConfig
from acf.types.frontier import Frontier
from acf.types.measurement import Measurement
from acf.types.objectives import Constraint, Metric, gain
from acf.types.results import EpisodeCounts, EpisodeResult, FinalResults


def score(
    c: EpisodeResult,
    baseline: dict[str, Measurement],
    objectives: list[Metric],
    constraints: list[Constraint],
    weights: dict[str, float],
) -> None:
    """Set an ok result's losses (what the searcher is told), reward, constraint violations and feasibility."""
    c.losses = [-gain(m, c.value(m.name), baseline[m.name].value) for m in objectives]
    c.reward = reward(c.measurements, baseline, objectives, weights)
    for con in constraints:
        v = con.violation(c.value(con.metric), baseline[con.metric].value)
        if v > 0:
            c.violations[con.text] = v
    c.feasible = not c.violations


def summary_line(c: EpisodeResult, objectives: list[Metric]) -> str:
    if c.status != "ok":
        return f"{c.id} {c.status}: {c.strategy.describe()} — {c.reason}"
    values = ", ".join(f"{m.name}={c.value(m.name):.4g}" for m in objectives)
    flag = "" if c.feasible else " (violates constraints)"
    return f"{c.id} {c.strategy.describe()}: {values}, reward {c.reward:+.4f}{flag}{' [cached]' if c.cached else ''}"


def final_results(
    config: RunConfig,
    candidates: list[EpisodeResult],
    frontier: Frontier,
    objectives: list[Metric],
    baseline: dict[str, Measurement],
    seconds: float,
    promotion: Any,
    searcher: dict[str, Any],
) -> FinalResults:
    pick = next((c for c in candidates if c.id == frontier.recommended), None)
    return FinalResults(
        model=config.model,
        dataset=config.dataset,
        episodes=EpisodeCounts(**{s: sum(c.status == s for c in candidates) for s in ("ok", "failed", "skipped")}),
        objectives=objectives,
        constraints=config.constraints,
        baseline=baseline,
        hypervolume=frontier.hypervolume,
        frontier=[c.id for c in frontier.candidates],
        recommended=pick,
        recommended_reason=frontier.recommended_reason,
        blocking_constraint=frontier.blocking_constraint,
        promotion=promotion,
        seconds=round(seconds, 2),
        searcher=searcher,
    )
