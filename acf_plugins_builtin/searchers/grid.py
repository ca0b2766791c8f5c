"""Grid search: each parameter at a few levels; pipelines interleaved so every family is tried early."""

from __future__ import annotations

from itertools import zip_longest

from acf import AcfError, Searcher

LEVELS = 3
# More points than this cannot be enumerated (a per-layer allocation space has ~10^100).
MAX_POINTS = 1_000_000


class GridSearcher(Searcher):
    name = "grid"
    description = f"every combination of parameter levels ({LEVELS} per continuous parameter), pipelines interleaved"

    def __init__(self, space, *, num_objectives: int, budget: int, seed: int, workers: int = 1):
        super().__init__(space, num_objectives=num_objectives, budget=budget, seed=seed, workers=workers)
        if space.grid_size(LEVELS, cap=MAX_POINTS) > MAX_POINTS:
            raise AcfError(
                f"the grid searcher cannot enumerate this space (over {MAX_POINTS:,} points: a per-layer "
                "method's allocation, say)",
                hint="use --searcher nevergrad or random",
            )
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
