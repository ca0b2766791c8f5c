"""What stands between a searcher and an episode: repeats and unaffordable points cost no episode.

A searcher may propose a strategy the run has already scored (conditional spaces make that common: two
points that differ only in inactive parameters are the same strategy), or one over the episode budget.
Neither should spend an episode. `Proposer` tells the searcher the known score (or a failure) and asks
again, deterministically, so a resumed run that replays the same history gets the same proposals.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from acf.errors import StrategyError
from acf.search.pipelines import strategy_to_point
from acf.types.strategy import Strategy

if TYPE_CHECKING:
    from acf.plugins.searcher import Searcher

# How many repeats or refusals in a row before a proposal is taken anyway (a tiny, exhausted space).
MAX_REDRAWS = 50


def normal_point(point: dict[str, Any]) -> dict[str, Any]:
    """A point as JSON would give it back (numpy scalars → Python, tuples → lists)."""
    return json.loads(json.dumps(point, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def point_key(point: dict[str, Any]) -> str:
    return json.dumps(normal_point(point), sort_keys=True)


class Proposer:
    """Wraps a searcher for the episode loop.

    `refuse(point)` returns a reason the point cannot run (e.g. over the episode budget) or None; a refused
    point is told back as a failure. A point already scored is told its recorded losses again; one still in
    flight (asked, not yet told: candidates in parallel) is drawn again without telling. `given` points (the
    user's `--strategy` files) come first, as they are; the searcher is told their scores too.
    """

    def __init__(
        self,
        searcher: "Searcher",
        refuse: Callable[[dict[str, Any]], str | None] | None = None,
        *,
        given: list[dict[str, Any]] | None = None,
        max_redraws: int = MAX_REDRAWS,
    ):
        self.searcher = searcher
        self.given = [normal_point(p) for p in given or []]
        self.refuse = refuse or (lambda point: None)
        self.max_redraws = max_redraws
        self.scored: dict[str, tuple[list[float] | None, float]] = {}
        self.pending: set[str] = set()

    def ask(self) -> dict[str, Any]:
        point = self.given.pop(0) if self.given else self._draw()
        self.pending.add(point_key(point))
        return point

    def _draw(self) -> dict[str, Any]:
        point = normal_point(self.searcher.ask())
        for _ in range(self.max_redraws):
            key = point_key(point)
            known = self.scored.get(key)
            if known is not None:
                self.searcher.tell(point, *known)
            elif key in self.pending:
                pass  # in flight: its result is told when it comes; the searcher proposes again
            elif self.refuse(point) is not None:
                self.searcher.tell(point, None, 0.0)
            else:
                return point
            point = normal_point(self.searcher.ask())
        return point

    def tell(self, point: dict[str, Any], losses: list[float] | None, violation: float = 0.0) -> None:
        self.pending.discard(point_key(point))
        self.scored[point_key(point)] = (losses, violation)
        self.searcher.tell(point, losses, violation)


def given_point(session: Any, raw: dict[str, Any], number: int, max_steps: int) -> dict[str, Any]:
    """A user's `--strategy` (JSON), validated against the session's methods and model, as a searcher point."""
    try:
        strategy = session.validate(Strategy.model_validate(raw))
    except StrategyError as exc:
        raise StrategyError(f"--strategy {number}: {exc}") from None
    if len(strategy.steps) > max_steps:
        raise StrategyError(f"--strategy {number} has {len(strategy.steps)} steps, more than --max-steps {max_steps}")
    return normal_point(strategy_to_point(strategy))


def checked_proposal(session: Any, raw: dict[str, Any], max_steps: int) -> tuple[dict[str, Any] | None, str | None]:
    """A strategy a searcher proposes (JSON), checked as a `--strategy` file is: its point, or why not."""
    try:
        return given_point(session, raw, 0, max_steps), None
    except (StrategyError, ValueError) as exc:  # ValueError: pydantic's, for JSON that is not a strategy
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, text.replace("--strategy 0: ", "").replace("--strategy 0 ", "it ")
