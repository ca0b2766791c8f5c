"""Resuming a run: the searcher rebuilt from the run directory by replaying its recorded asks and tells, no model
work, in the interleaving they happened."""

from __future__ import annotations

from typing import Any

from acf.errors import RunStoreError
from acf.rundir.store import RunStore
from acf.search.proposals import Proposer, normal_point
from acf.system.progress import Progress
from acf.types.results import EpisodeResult


def replay(
    store: RunStore, proposer: Proposer, candidates: list[EpisodeResult], progress: Progress
) -> list[tuple[int, dict[str, Any]]]:
    """Tell `proposer` the kept history of `store` again (each told result joins `candidates`); returns the
    episodes asked but never finished (a killed run's in flight), to run again as the same episodes."""
    asked, told = store.history()
    kept = {c.episode for c in told}
    for stale in {c.episode for c in store.finished_episodes()} - kept:
        store.discard_result(stale)  # told after a result that was lost: run again, not mistaken as done
    results = iter(told)
    done = 0

    def tell(candidate: EpisodeResult) -> None:
        proposer.tell(normal_point(candidate.point), candidate.losses, sum(candidate.violations.values()))
        candidates.append(candidate)
        candidates.sort(key=lambda c: c.episode)
        progress.advance()

    for number, point, after in asked:
        while done < after:
            tell(next(results))
            done += 1
        if proposer.ask() != point:
            raise RunStoreError(
                f"cannot resume {store.dir}: the searcher no longer proposes episode "
                f"{number}'s strategy (was acf or a plugin upgraded?)"
            )
    for candidate in results:
        tell(candidate)
    finished = {c.episode for c in candidates}
    return [(number, point) for number, point, _ in asked if number not in finished]
