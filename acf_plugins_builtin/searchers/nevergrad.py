"""Nevergrad's NGOpt over the conditional strategy space, told every objective (multi-objective ask/tell)."""

from __future__ import annotations

import warnings
from typing import Any

from acf import Choice, Float, Int, Searcher
from acf.toolkit import dominates, import_backend, normal_point, point_key

# A failed or skipped candidate scores beyond the reference point on every objective.
FAILED_LOSS = 1.0


def _parameter(ng, p):
    if isinstance(p, Choice):
        return ng.p.Choice(p.options)
    if p.low == p.high:  # a one-value range (e.g. layers to drop from a 2-layer model)
        return ng.p.Choice([p.low])
    if isinstance(p, Int):
        scalar = ng.p.Log(lower=p.low, upper=p.high) if p.log else ng.p.Scalar(lower=p.low, upper=p.high)
        return scalar.set_integer_casting()
    if isinstance(p, Float):
        return ng.p.Log(lower=p.low, upper=p.high) if p.log else ng.p.Scalar(lower=p.low, upper=p.high)
    raise TypeError(f"unsupported parameter type {type(p).__name__}")


def full_point(space, point: dict[str, Any]) -> dict[str, Any]:
    """A value for every parameter of the space (nevergrad's parametrization has them all): inactive ones
    at their initial value."""
    return {p.name: point.get(p.name, p.initial()) for p in space.params}


class NevergradSearcher(Searcher):
    """Nevergrad's NGOpt, told every objective, with two kinds of suggestions it starts from:

    1. each single method at its default parameters (the methods' own priors), up to half the budget;
    2. then, on all but one of every `explore_every` asks, an untried neighbour of a current Pareto point (one
       parameter one step away: the adjacent option, a quarter of an integer range, an eighth of a real one) —
       the frontier is refined where it is, while NGOpt's own asks keep exploring globally.
    """

    name = "nevergrad"
    default = True
    description = "Nevergrad NGOpt, multi-objective, seeded with method defaults and Pareto-neighbour suggestions"
    optimizer = "NGOpt"
    # Of every `explore_every` asks after the seeds, one is left to NGOpt; the others refine the front.
    explore_every = 3

    def __init__(self, space, *, num_objectives: int, budget: int, seed: int, workers: int = 1):
        super().__init__(space, num_objectives=num_objectives, budget=budget, seed=seed, workers=workers)
        ng = import_backend("nevergrad", extra="search", purpose="the nevergrad searcher")
        import numpy as np

        parametrization = ng.p.Dict(**{p.name: _parameter(ng, p) for p in space.params})
        parametrization.random_state = np.random.RandomState(seed)
        self._ng = ng
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # with several in flight, NGOpt picks an optimizer that proposes a batch before it learns from it
            self.opt = ng.optimizers.registry[self.optimizer](
                parametrization=parametrization, budget=max(budget, 1), num_workers=workers
            )
            if num_objectives > 1:
                # Upper bounds of the normalised losses: the hypervolume reference point (gain 0).
                self.opt.tell(ng.p.MultiobjectiveReference(), [0.0] * num_objectives)
        self._asked: dict[str, Any] = {}
        self._seeds = self.prior_points(space, budget, self.rng)
        self._tried: set[str] = set()
        self._told: list[tuple[dict[str, Any], list[float]]] = []
        self._turn = 0

    @staticmethod
    def prior_points(space, budget: int, rng) -> list[dict[str, Any]]:
        """Each single-method pipeline at its parameters' defaults (the methods' own priors), in a seeded order;
        up to half the budget is spent on them before the optimizer takes over."""
        pipeline = space.get("pipeline") if "pipeline" in space.names() else None
        if pipeline is None:
            return []
        singles = [o for o in pipeline.options if "+" not in str(o)]
        order = list(rng.permutation(len(singles)))
        points = []
        for i in order[: max(1, budget // 2)]:
            active = space.validate_values({"pipeline": singles[int(i)]})
            points.append(full_point(space, active))
        return points

    def pareto_neighbour(self) -> dict[str, Any] | None:
        """An untried point one parameter-step from a non-dominated told point (pipelines are not stepped)."""
        gains = [[-x for x in ls] for _, ls in self._told]
        front = [told for told, g in zip(self._told, gains) if not any(dominates(o, g) for o in gains)]
        for i in self.rng.permutation(len(front)):
            point = front[int(i)][0]
            moves = [
                (p, v)
                for p in self.space.params
                if p.name in point and p.name != "pipeline"
                for v in p.neighbours(point[p.name])
            ]
            for j in self.rng.permutation(len(moves)):
                p, v = moves[int(j)]
                candidate = self.space.validate_values({**point, p.name: v})
                if point_key(candidate) not in self._tried:
                    return candidate
        return None

    def ask(self) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self._seeds:
                self.opt.suggest(self._seeds.pop(0))
            else:
                if (
                    self._turn % self.explore_every != self.explore_every - 1
                    and (neighbour := self.pareto_neighbour()) is not None
                ):
                    self.opt.suggest(full_point(self.space, neighbour))
                self._turn += 1
            candidate = self.opt.ask()
        point = normal_point(self.space.active(candidate.value))
        self._asked[point_key(point)] = candidate
        self._tried.add(point_key(point))
        return point

    def tell(self, point: dict[str, Any], losses: list[float] | None, violation: float = 0.0) -> None:
        candidate = self._asked.pop(point_key(point), None)
        if candidate is None:  # a point it did not ask (the user's --strategy): tell it as a new child
            candidate = self.opt.parametrization.spawn_child(new_value=full_point(self.space, point))
        self._tried.add(point_key(point))
        if losses is not None and violation <= 0:
            self._told.append((point, list(losses)))
        values = list(losses) if losses is not None else [FAILED_LOSS] * self.num_objectives
        loss = values if self.num_objectives > 1 else values[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if violation > 0:
                self.opt.tell(candidate, loss, constraint_violation=[violation])
            else:
                self.opt.tell(candidate, loss)
