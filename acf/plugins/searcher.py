"""The base class of searchers: ask for the next point of a `Space`, learn from what it scored."""

from __future__ import annotations

from typing import Any, ClassVar

from acf.search.space import Space


class Searcher:
    """Proposes points of a space and learns from their losses.

    Losses are to be minimised, one per objective, normalised so that 0 is the reference point and
    -1 is the uncompressed baseline. `losses=None` means the candidate failed or was skipped.
    `violation` (>0) says how far it is from meeting the hard constraints.

    `tell` may also be called with a point `ask` never returned: a strategy the user asked to try first
    (`--strategy`). Learn from it or ignore it.

    Determinism contract: constructed with the same arguments and told the same history, a searcher asks
    the same points; `acf` resumes a run by replaying the recorded asks and tells (no model work)::

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

    def __init__(self, space: Space, *, num_objectives: int, budget: int, seed: int):
        import numpy as np

        self.space = space
        self.num_objectives = num_objectives
        self.budget = budget
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def ask(self) -> dict[str, Any]:
        raise NotImplementedError

    def tell(self, point: dict[str, Any], losses: list[float] | None, violation: float = 0.0) -> None:
        raise NotImplementedError
