"""What a run searches for: its objectives (the frontier's axes), hard constraints and reward weights, checked
against the metrics its evaluators produce before any model work."""

from __future__ import annotations

from typing import Any

from acf.errors import AcfError
from acf.types.config import RunConfig
from acf.types.objectives import Constraint, Metric, check_constraints


def run_goals(session: Any, config: RunConfig, preset: Any) -> tuple[list[Metric], list[Constraint], dict[str, float]]:
    """(objectives, constraints, weights): `--objective` or the task metric, the evaluators' `default_objectives`
    and the preset's extras; `--constraint` parsed and checked reachable; the preset's weights with `--weight`'s."""
    s = session
    metrics: dict[str, Metric] = {}
    for ev in s.evaluators:
        metrics.update({m.name: m for m in ev.metrics_for(s.fidelity[ev.name])})
    task = s.dataset_evaluator
    defaults = [m for ev in s.evaluators for m in ev.default_objectives]
    names = config.objectives or [task.primary_metric(s.fidelity[task.name]), *defaults, *preset.extra_objectives]
    unknown = [n for n in names if n not in metrics]
    if unknown:
        raise AcfError(f"unknown objective(s) {', '.join(unknown)}; metrics in this run: {', '.join(sorted(metrics))}")
    objectives = [metrics[n] for n in dict.fromkeys(names)]
    constraints = [Constraint.parse(c) for c in config.constraints]
    lowest = {c.metric: {n: m.lowest(s.spec, c.metric) for n, m in s.methods.items()} for c in constraints}
    check_constraints(constraints, metrics, lowest)
    unknown_w = [k for k in config.weights if k not in metrics]
    if unknown_w:
        raise AcfError(f"--weight names unknown metric(s) {', '.join(unknown_w)}")
    return objectives, constraints, {**preset.weights(objectives), **config.weights}
