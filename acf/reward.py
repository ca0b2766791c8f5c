"""Reward presets and the scalar reward: a weighted sum of normalised gains over the run's objectives."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from acf.measure import Measurement
    from acf.objectives import Metric


class RewardPreset:
    """Weights per metric category (accuracy, size, latency, memory, energy).

    A plugin adds a preset by subclassing and registering it::

        from acf import RewardPreset, hookimpl

        class Tiny(RewardPreset):
            name = "tiny"
            category_weights = {"accuracy": 1.0, "size": 4.0}

        @hookimpl
        def register_reward_presets(register):
            register(Tiny)
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    category_weights: ClassVar[dict[str, float]] = {}
    # Extra objectives this preset wants on the frontier beyond the task metric and size.
    extra_objectives: ClassVar[tuple[str, ...]] = ()

    def weights(self, objectives: list["Metric"]) -> dict[str, float]:
        return {m.name: float(self.category_weights.get(m.category, 0.0)) for m in objectives}


def reward(
    measurements: dict[str, "Measurement"],
    baseline: dict[str, "Measurement"],
    objectives: list["Metric"],
    weights: dict[str, float],
) -> float:
    """Σ wᵢ·(gainᵢ − 1) / Σ|wᵢ|: 0 for the baseline, positive when the trade is worth it.

    `gain` is 1 at the baseline and 0 at the hypervolume reference point (see `acf.objectives.gain`).
    """
    from acf.objectives import gain

    total = sum(abs(weights.get(m.name, 0.0)) for m in objectives) or 1.0
    score = 0.0
    for m in objectives:
        w = weights.get(m.name, 0.0)
        if w:
            score += w * (gain(m, measurements[m.name].value, baseline[m.name].value) - 1.0)
    return score / total
