"""The search after the prior, as EvoPress does it: a (1+λ) evolutionary search whose offspring differ from the
parent by a few level switches at the same budget, screened by KL divergence on a few sequences and the best of
them checked on all; an offspring replaces the parent only when it is better there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .units import Level, Unit

# Generations in a row that score nothing new before the search stops.
STALE_GENERATIONS = 20


@dataclass
class Budget:
    """Average bits per weight of an allocation must stay within [`bits` − `slack`, `bits`]."""

    units: list[Unit]
    levels: list[Level]
    bits: float
    dtype_bits: int
    slack: float = 0.05

    def __post_init__(self):
        self.total = sum(u.weights for u in self.units)
        self.cost = {
            u.key: {lv.name: lv.bits(u, self.dtype_bits) * u.weights for lv in self.levels} for u in self.units
        }

    def average(self, allocation: dict[str, str]) -> float:
        return sum(self.cost[k][v] for k, v in allocation.items()) / self.total

    def fits(self, allocation: dict[str, str]) -> bool:
        return self.bits - self.slack <= self.average(allocation) <= self.bits + 1e-9


@dataclass
class SearchLog:
    generations: list[dict[str, Any]] = field(default_factory=list)
    evaluations: int = 0
    kl: float = float("nan")  # the result's, at the full fidelity


def mutate(parent: dict[str, str], budget: Budget, rng: Any, tries: int = 200) -> dict[str, str] | None:
    """A few level switches (one unit up, one down, as often as the draw says), kept within the budget."""
    order = [lv.name for lv in sorted(budget.levels, key=lambda lv: lv.bits(budget.units[0], budget.dtype_bits))]
    keys = [u.key for u in budget.units]
    for _ in range(tries):
        child = dict(parent)
        for _ in range(1 + int(rng.integers(0, 3))):
            up, down = rng.choice(len(keys), size=2, replace=False)
            i, j = order.index(child[keys[up]]), order.index(child[keys[down]])
            if i + 1 < len(order):
                child[keys[up]] = order[i + 1]
            if j > 0:
                child[keys[down]] = order[j - 1]
        # within the budget's band, or on the way up to it from a parent below it
        bits = budget.average(child)
        if child != parent and bits <= budget.bits + 1e-9 and (budget.fits(child) or bits > budget.average(parent)):
            return child
    return None


def evolve(
    start: dict[str, str],
    budget: Budget,
    fitness: Callable[[dict[str, str], int], float],
    *,
    screen: int,
    full: int,
    offspring: int = 8,
    survivors: int = 2,
    evaluations: int = 200,
    rng: Any,
) -> tuple[dict[str, str], SearchLog]:
    """The best allocation found from `start` within `evaluations` calls of `fitness(allocation, sequences)`:
    each generation `offspring` children at `screen` sequences, the best `survivors` of them at `full`."""
    log = SearchLog()
    seen: dict[tuple, float] = {}

    def score(allocation: dict[str, str], n: int) -> float:
        key = (tuple(sorted(allocation.items())), n)
        if key not in seen:
            seen[key] = fitness(allocation, n)
            log.evaluations += 1
        return seen[key]

    parent, parent_fit = start, score(start, full)
    stale = 0  # generations in a row whose children had all been scored: the neighbourhood is exhausted
    while log.evaluations + offspring + survivors <= evaluations and stale < STALE_GENERATIONS:
        before = log.evaluations
        children = [c for c in (mutate(parent, budget, rng) for _ in range(offspring)) if c is not None]
        if not children:
            break
        ranked = sorted(children, key=lambda c: score(c, screen))[:survivors]
        best = min(ranked, key=lambda c: score(c, full))
        improved = score(best, full) < parent_fit
        if improved:
            parent, parent_fit = best, score(best, full)
        stale = 0 if log.evaluations > before else stale + 1
        log.generations.append(
            {"kl": parent_fit, "bits": budget.average(parent), "improved": improved, "evaluations": log.evaluations}
        )
    log.kl = parent_fit
    return parent, log
