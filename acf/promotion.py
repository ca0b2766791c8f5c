"""Cheap first: the search scores every candidate on the task's cheap fidelity; the most promising are then
promoted to its full fidelity (a two-rung successive halving), and ranked noise-aware.

Which are promising: the frontier's members by reward, then candidates whose cheap task score is within
noise of a frontier member's (overlapping 95% intervals: a screen cannot tell them apart), then the rest by
reward. Ranking: candidates whose full-fidelity intervals overlap are tied — not ranked apart by noise alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acf.candidate import Candidate
    from acf.frontier import Frontier
    from acf.measure import Measurement
    from acf.objectives import Metric


def promotion_order(candidates: list["Candidate"], frontier: "Frontier", metric: str, n: int) -> list["Candidate"]:
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


def tied_ranking(scores: dict[str, "Measurement"], metric: "Metric") -> list[list[str]]:
    """Groups of ids, best first; an id joins the current group while its interval overlaps the group's best."""
    order = sorted(scores, key=lambda k: scores[k].value, reverse=metric.direction == "max")
    groups: list[list[str]] = []
    for key in order:
        if groups and scores[key].overlaps(scores[groups[-1][0]]):
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups
