"""The scalar reward: a weighted sum of normalised gains over the run's objectives."""

from __future__ import annotations

from acf.types.measurement import Measurement
from acf.types.objectives import Metric, gain


def reward(
    measurements: dict[str, Measurement],
    baseline: dict[str, Measurement],
    objectives: list[Metric],
    weights: dict[str, float],
) -> float:
    """Σ wᵢ·(gainᵢ − 1) / Σ|wᵢ|: 0 for the baseline, positive when the trade is worth it.

    `gain` is 1 at the baseline and 0 at the hypervolume reference point (see `acf.types.objectives.gain`).
    """
    total = sum(abs(weights.get(m.name, 0.0)) for m in objectives) or 1.0
    score = 0.0
    for m in objectives:
        w = weights.get(m.name, 0.0)
        if w:
            score += w * (gain(m, measurements[m.name].value, baseline[m.name].value) - 1.0)
    return score / total
