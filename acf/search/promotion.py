"""Cheap first: the search scores every candidate on the task's cheap fidelity; the most promising are then
promoted to its full fidelity (a two-rung successive halving), and ranked noise-aware.

Which are promising: the frontier's members by reward, then candidates whose cheap task score is within
noise of a frontier member's (overlapping 95% intervals: a screen cannot tell them apart), then the rest by
reward. Ranking: candidates whose full-fidelity intervals overlap are tied — not ranked apart by noise alone.
"""

from __future__ import annotations

from typing import Any, Callable

from acf.search.deadline import deadline, describe_failure
from acf.types.frontier import Frontier
from acf.types.measurement import Measurement
from acf.types.objectives import Metric
from acf.types.results import EpisodeResult, Promotion


def promote(
    session: Any,
    candidates: list[EpisodeResult],
    frontier: Frontier,
    n: int,
    *,
    timeout_s: float | None,
    save: Callable[[EpisodeResult], None],
    progress: Any,
) -> Promotion | None:
    """Re-score the `n` most promising `candidates` (and the baseline) at the task's full fidelity on `session`;
    each promoted candidate is saved (`save`) as soon as it is re-scored."""
    task = session.dataset_evaluator
    full = task.fidelities[-1]
    if full == session.fidelity[task.name]:
        return None
    metric = task.primary_metric(session.fidelity[task.name])
    picks = promotion_order(candidates, frontier, metric, n)
    progress.phase(f"promoting {len(picks)} candidates to {task.name} at fidelity {full}")
    baseline, _, _ = session.measure(None, evaluators=[task], fidelity={task.name: full})
    full_metric = next(m for m in task.metrics_for(full) if m.name == task.primary_metric(full))
    for c in picks:
        try:
            with deadline(timeout_s):
                c.promoted, _, _ = session.measure(c.strategy, evaluators=[task], fidelity={task.name: full})
        except Exception as exc:  # a failed promotion loses nothing already measured
            progress.log(f"{c.id}: promotion failed: {describe_failure(exc)}")
            continue
        finally:
            session.release()
        save(c)
    scores = {
        "baseline": baseline[full_metric.name],
        **{c.id: c.promoted[full_metric.name] for c in picks if full_metric.name in c.promoted},
    }
    return Promotion(
        fidelity=full,
        metric=full_metric.name,
        screened_on=metric,
        candidates=[c.id for c in picks],
        scores=scores,
        ranking=tied_ranking(scores, full_metric),
    )


def promotion_order(candidates: list[EpisodeResult], frontier: Frontier, metric: str, n: int) -> list[EpisodeResult]:
    ok = [c for c in candidates if c.status == "ok" and metric in c.measurements]
    members = [c for c in frontier.candidates if metric in c.measurements]
    member_ids = {c.id for c in members}

    def rank(c) -> tuple[int, float]:
        if c.id in member_ids:
            tier = 0
        elif any(c.measurements[metric].overlaps(m.measurements[metric]) for m in members):
            tier = 1
        else:
            tier = 2
        return tier, -(c.reward or 0.0)

    return sorted(ok, key=rank)[:n]


def tied_ranking(scores: dict[str, Measurement], metric: Metric) -> list[list[str]]:
    """Groups of ids, best first; an id joins the current group while its interval overlaps the group's best."""
    order = sorted(scores, key=lambda k: scores[k].value, reverse=metric.direction == "max")
    groups: list[list[str]] = []
    for key in order:
        if groups and scores[key].overlaps(scores[groups[-1][0]]):
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups
