"""acf's per-layer search at one budget of average bits: the sensitivity prior's knapsack solution (or the uniform
level under the budget, whichever is closer to the uncompressed model), refined by the evolutionary search on
KL divergence. Used by `per_layer`'s suggestions and by `benchmarks/per_layer.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .database import Database
from .engine import Engine
from .evolve import Budget, SearchLog, evolve
from .prior import fisher, knapsack, sensitivities
from .units import Level, Unit


@dataclass
class Allocation:
    levels: dict[str, str]  # unit key → level name
    bits: float
    kl: float
    start: str  # "prior" or the uniform level it started from
    log: SearchLog


class Allocator:
    """Everything one model's searches share: the database at every level, the Fisher information, the
    sensitivities, and the engine that assembles and scores candidates."""

    def __init__(
        self,
        model: Any,
        db: Database,
        units: list[Unit],
        levels: list[Level],
        modules: dict[str, list[str]],
        sequences: list[Any],
        ctx: Any,
        calibration: dict[str, int],
        dtype_bits: int,
    ):
        self.units, self.levels, self.dtype_bits = units, levels, dtype_bits
        db.ensure(model, levels, ctx, calibration)
        by_name = {lv.name: lv for lv in levels}
        diag = fisher(model, sequences, [n for names in modules.values() for n in names])
        self.sens = sensitivities(
            model, diag, modules, units, levels, lambda name, level: db.weight(name, level, model.dtype)
        )
        del diag
        self.engine = Engine(model, db, modules, by_name, sequences)

    def prior(self, budget_bits: float) -> dict[str, str]:
        """The sensitivity prior's allocation at a budget (no search)."""
        return knapsack(self.units, self.levels, self.sens, budget_bits, self.dtype_bits)

    def search(
        self, budget_bits: float, *, evaluations: int, screen: int, seed: int, offspring: int = 8, survivors: int = 2
    ) -> Allocation:
        import numpy as np

        budget = Budget(self.units, self.levels, budget_bits, self.dtype_bits)
        full = len(self.engine.sequences)
        starts = [("prior", self.prior(budget_bits))]
        for level in self.levels:  # the best uniform setting within the budget, if one is
            uniform = {u.key: level.name for u in self.units}
            if budget.fits(uniform):
                starts.append((level.name, uniform))
        scored = [(self.engine.kl(a, full), name, a) for name, a in starts]
        _, name, start = min(scored, key=lambda s: s[0])
        found, log = evolve(
            start,
            budget,
            self.engine.kl,
            screen=screen,
            full=full,
            offspring=offspring,
            survivors=survivors,
            evaluations=evaluations - len(starts),
            rng=np.random.default_rng(seed),
        )
        log.evaluations += len(starts)
        return Allocation(found, budget.average(found), log.kl, name, log)
