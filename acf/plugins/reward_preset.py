"""The interface of reward presets: weights per metric category."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # a plugin module that registers a preset must stay cheap to import (acf --help)
    from acf.types.objectives import Metric


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
    # True for the preset a run uses when `--reward` names none (one plugin marks one: balanced).
    default: ClassVar[bool] = False
    category_weights: ClassVar[dict[str, float]] = {}
    # Extra objectives this preset wants on the frontier beyond the task metric and size.
    extra_objectives: ClassVar[tuple[str, ...]] = ()

    def weights(self, objectives: list["Metric"]) -> dict[str, float]:
        return {m.name: float(self.category_weights.get(m.category, 0.0)) for m in objectives}
