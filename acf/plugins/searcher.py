"""The base class of searchers: ask for the next point of a `Space`, learn from what it scored."""

from __future__ import annotations

from typing import Any, ClassVar

from acf.plugins.view import RunView
from acf.types.space import Space


class Searcher:
    """Proposes points of a space and learns from their losses.

    Losses are to be minimised, one per objective, normalised so that 0 is the reference point and
    -1 is the uncompressed baseline. `losses=None` means the candidate failed or was skipped.
    `violation` (>0) says how far it is from meeting the hard constraints.

    `tell` may also be called with a point `ask` never returned: a strategy the user asked to try first
    (`--strategy`). Learn from it or ignore it.

    Determinism contract: constructed with the same arguments and told the same history, a searcher asks
    the same points; `acf` resumes a run by replaying the recorded asks and tells (no model work).

    With candidates in parallel (`--executor ray --workers N`) it is asked up to `workers` times before it is
    told, and told in the order results arrive: a searcher that takes a `workers` argument is given it::

        import random
        from acf import Searcher, hookimpl

        class FirstDefault(Searcher):
            name = "first"
            def ask(self):
                return self.space.sample(self.rng)
            def tell(self, point, losses, violation=0.0):
                pass

        @hookimpl
        def register_searchers(register):
            register(FirstDefault)
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # True for the searcher a run uses when `--searcher` names none (one plugin marks one: nevergrad).
    default: ClassVar[bool] = False

    def __init__(self, space: Space, *, num_objectives: int, budget: int, seed: int, workers: int = 1):
        import numpy as np

        self.space = space
        self.workers = workers
        self.num_objectives = num_objectives
        self.budget = budget
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def attach(self, run: RunView) -> None:
        """Called once, after the baseline and before the first ask, with a read-only view of the run
        (`acf.RunView`: the model spec, methods, objectives, constraints, baseline, results so far,
        the frontier, a validator and a place to record what the searcher did). A searcher that reasons about
        the run (the `agent`) keeps it; the default ignores it. A searcher whose `__init__` takes `config` is
        given the `RunConfig` when it is built, before any model work (to check its own settings)."""

    def rationale(self, point: dict[str, Any]) -> str | None:
        """Why this searcher proposed `point`, in a sentence (recorded in the episode's result), or None."""
        return None

    def summary(self) -> dict[str, Any]:
        """Counts worth keeping in `final_results.json` (an LLM's rounds and fallbacks, say); empty by default."""
        return {}

    def ask(self) -> dict[str, Any]:
        raise NotImplementedError

    def tell(self, point: dict[str, Any], losses: list[float] | None, violation: float = 0.0) -> None:
        raise NotImplementedError
