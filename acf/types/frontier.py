"""The Pareto frontier, its hypervolume and the recommended pick."""

from __future__ import annotations

import math
from typing import Sequence

from pydantic import BaseModel, Field

from acf.types.measurement import Measurement
from acf.types.objectives import Metric, gain, reference_value
from acf.types.results import EpisodeResult


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when gain vector `a` is at least as good everywhere and better somewhere (maximisation)."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_indices(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points (maximisation); duplicates keep their first occurrence."""
    keep = []
    for i, p in enumerate(points):
        if any(dominates(q, p) for q in points):
            continue
        if any(tuple(points[j]) == tuple(p) for j in keep):
            continue
        keep.append(i)
    return keep


def hypervolume(points: Sequence[Sequence[float]]) -> float:
    """Volume dominated by `points` above the origin (maximisation; coordinates ≤ 0 contribute nothing).

    Exact, by slicing along the first axis; fine for the tens of points a search produces.
    """
    pts = [tuple(max(0.0, x) for x in p) for p in points]
    pts = [p for p in pts if all(x > 0 for x in p)]
    if not pts:
        return 0.0
    if len(pts[0]) == 1:
        return max(p[0] for p in pts)
    volume, prev = 0.0, 0.0
    # Sweep the first axis from the smallest value upwards; each slab is covered by points at least that far out.
    xs = sorted({p[0] for p in pts})
    for x in xs:
        slab = [p[1:] for p in pts if p[0] >= x]
        volume += (x - prev) * hypervolume(slab)
        prev = x
    return volume


class Frontier(BaseModel):
    """Non-dominated candidates on `objectives`, with the hypervolume of their normalised gains.

    Reference point: per objective, `acf.types.objectives.reference_value` (twice the baseline for costs,
    zero accuracy / twice-worse log-likelihood for scores), so the baseline alone has hypervolume 1.
    """

    objectives: list[Metric]
    baseline: dict[str, Measurement] = Field(default_factory=dict)
    reference: dict[str, float] = Field(default_factory=dict)
    candidates: list[EpisodeResult] = Field(default_factory=list)
    hypervolume: float = 0.0
    recommended: str | None = None
    recommended_reason: str = ""
    blocking_constraint: str | None = None

    def gains(self, c: EpisodeResult) -> list[float]:
        return [gain(m, c.value(m.name), self.baseline[m.name].value) for m in self.objectives]


def build_frontier(
    candidates: list[EpisodeResult], objectives: list[Metric], baseline: dict[str, Measurement]
) -> Frontier:
    # only numbers can be on a frontier: NaN compares false with everything, so it would never be dominated
    ok = [
        c
        for c in candidates
        if c.status == "ok" and all(m.name in c.measurements and math.isfinite(c.value(m.name)) for m in objectives)
    ]
    frontier = Frontier(
        objectives=objectives,
        baseline={m.name: baseline[m.name] for m in objectives},
        reference={m.name: reference_value(m, baseline[m.name].value) for m in objectives},
    )
    points = [frontier.gains(c) for c in ok]
    frontier.candidates = [ok[i] for i in pareto_indices(points)]
    frontier.hypervolume = hypervolume([frontier.gains(c) for c in frontier.candidates])
    _recommend(frontier, ok)
    return frontier


# How far a predicted cost may be from what a runtime then measures, for `dominated_at_best`.
PREDICTION_BAND = 0.25


def dominated_at_best(frontier: Frontier, measured: dict[str, Measurement], predicted: dict[str, float]) -> bool:
    """True when a frontier member dominates a candidate even at its best case: every measured objective at the
    favourable end of its interval, every predicted cost `PREDICTION_BAND` better than predicted. False when an
    objective is neither measured nor predicted (then nothing is known)."""
    best = []
    for m in frontier.objectives:
        if m.name in measured:
            value = measured[m.name].high if m.direction == "max" else measured[m.name].low
        elif m.name in predicted:
            value = predicted[m.name] * (1 + PREDICTION_BAND if m.direction == "max" else 1 - PREDICTION_BAND)
        else:
            return False
        best.append(gain(m, value, frontier.baseline[m.name].value))
    return any(dominates(frontier.gains(c), best) for c in frontier.candidates)


def _recommend(frontier: Frontier, ok: list[EpisodeResult]) -> None:
    feasible = [c for c in ok if c.feasible]
    if feasible:
        best = max(feasible, key=lambda c: (c.reward or 0.0, -c.episode))
        frontier.recommended = best.id
        frontier.recommended_reason = (
            f"highest reward ({best.reward:+.4f}) among {len(feasible)} candidates meeting every constraint"
        )
        return
    if not ok:
        frontier.recommended_reason = "no candidate finished"
        return
    nearest = min(ok, key=lambda c: (sum(c.violations.values()), -(c.reward or 0.0)))
    blocking = max(nearest.violations, key=nearest.violations.get)
    frontier.recommended = nearest.id
    frontier.blocking_constraint = blocking
    frontier.recommended_reason = (
        f"no candidate meets every constraint; {nearest.id} is nearest, blocked by {blocking!r}"
    )
