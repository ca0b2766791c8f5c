"""Grid search: each parameter at a few levels; pipelines interleaved so every family is tried early."""

from __future__ import annotations

from itertools import zip_longest

from acf import Searcher

LEVELS = 3


class GridSearcher(Searcher):
    name = "grid"
    description = f"every combination of parameter levels ({LEVELS} per continuous parameter), pipelines interleaved"

    def __init__(self, space, *, num_objectives: int, budget: int, seed: int):
        super().__init__(space, num_objectives=num_objectives, budget=budget, seed=seed)
        by_pipeline: dict[str, list] = {}
        for point in space.grid(LEVELS):
            by_pipeline.setdefault(str(point.get("pipeline")), []).append(point)
        groups = list(by_pipeline.values())
        for group in groups:
            self.rng.shuffle(group)  # the seed picks which corner of each pipeline's grid comes first
        self.points = [p for row in zip_longest(*groups) for p in row if p is not None]
        self._next = 0

    def ask(self):
        point = self.points[self._next % len(self.points)]
        self._next += 1
        return dict(point)

    def tell(self, point, losses, violation: float = 0.0) -> None:
        pass
