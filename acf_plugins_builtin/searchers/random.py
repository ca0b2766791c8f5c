"""Uniform random search over the strategy space (seeded)."""

from __future__ import annotations

from acf import Searcher


class RandomSearcher(Searcher):
    name = "random"
    description = "uniform random sampling of pipelines and parameters"

    def ask(self):
        return self.space.sample(self.rng)

    def tell(self, point, losses, violation: float = 0.0) -> None:
        pass  # random search does not learn
