"""Metrics with directions, hard constraints (`size_mb<=100`, `perplexity<=1.10*baseline`) and normalised gains."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel

from acf.errors import ConstraintError


class Metric(BaseModel):
    """A number an evaluator produces. `direction` says which way is better; `category` groups it for rewards."""

    name: str
    direction: Literal["max", "min"]
    unit: str = ""
    category: Literal["accuracy", "size", "latency", "memory", "energy", "other"] = "other"
    description: str = ""

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b


def reference_value(metric: Metric, baseline: float) -> float:
    """The hypervolume reference point for one metric, fixed by the baseline: one baseline's worth worse.

    Lower-is-better metrics: twice the baseline (a candidate twice as large or slow scores nothing).
    Higher-is-better metrics: baseline - |baseline| (zero for accuracies; twice as bad for log-likelihoods).
    A zero baseline (a small model's GSM8K accuracy, say) has no scale of its own: one unit of the metric is
    taken instead, so an improvement on it still has a gain above 1 and a loss one below.
    """
    scale = abs(baseline) or 1.0
    return baseline + scale if metric.direction == "min" else baseline - scale


def gain(metric: Metric, value: float, baseline: float) -> float:
    """Normalised gain: 0 at the reference point, 1 at the baseline, more when better than the baseline."""
    ref = reference_value(metric, baseline)
    span = abs(baseline - ref)
    return (value - ref) / span if metric.direction == "max" else (ref - value) / span


# How far a non-finite value is from meeting any constraint (finite, so JSON can hold it).
NON_FINITE_VIOLATION = 1e12
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*(.+?)\s*$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RHS = [
    (re.compile(rf"^({_NUMBER})$"), lambda m, b: float(m[1])),
    (re.compile(rf"^({_NUMBER})\s*\*\s*baseline$"), lambda m, b: float(m[1]) * b),
    (re.compile(rf"^baseline\s*\*\s*({_NUMBER})$"), lambda m, b: float(m[1]) * b),
    (re.compile(rf"^baseline\s*([-+])\s*({_NUMBER})$"), lambda m, b: b + float(m[2]) * (1 if m[1] == "+" else -1)),
    (re.compile(r"^baseline$"), lambda m, b: b),
]


class Constraint(BaseModel):
    """A hard constraint `metric OP rhs`, where rhs is a number or an expression of `baseline`."""

    text: str
    metric: str
    op: Literal["<=", ">=", "<", ">"]
    rhs: str

    @classmethod
    def parse(cls, text: str) -> "Constraint":
        m = _CONSTRAINT.match(text)
        if not m:
            raise ConstraintError(
                f"cannot parse constraint {text!r}",
                hint="write METRIC OP VALUE, e.g. 'size_mb<=100' or 'perplexity<=1.10*baseline'",
            )
        constraint = cls(text=text.strip(), metric=m[1], op=m[2], rhs=m[3])
        constraint.threshold(1.0)  # fail now on a bad right-hand side
        return constraint

    @property
    def relative(self) -> bool:
        return "baseline" in self.rhs

    def threshold(self, baseline: float | None) -> float:
        for pattern, build in _RHS:
            m = pattern.match(self.rhs)
            if m:
                if "baseline" in self.rhs and baseline is None:
                    raise ConstraintError(f"constraint {self.text!r} needs a baseline {self.metric}")
                return build(m, baseline)
        raise ConstraintError(
            f"cannot parse the right-hand side {self.rhs!r} of constraint {self.text!r}",
            hint="use a number, N*baseline, baseline*N, baseline+N or baseline-N",
        )

    def violation(self, value: float, baseline: float | None) -> float:
        """0 when satisfied; otherwise how far past the threshold, relative to the threshold's size."""
        t = self.threshold(baseline)
        if not math.isfinite(value):
            return NON_FINITE_VIOLATION  # NaN compares false both ways: it must never pass as satisfied
        scale = abs(t) or 1.0
        ok = {"<=": value <= t, "<": value < t, ">=": value >= t, ">": value > t}[self.op]
        if ok:
            return 0.0
        return max(abs(value - t) / scale, 1e-12)


def check_constraints(
    constraints: list[Constraint],
    known_metrics: dict[str, Metric],
    lowest: dict[str, dict[str, float | None]] | None = None,
) -> None:
    """Every constraint names a metric of the run; an upper bound (`<=`, `<`, no baseline) on a metric whose lowest
    reachable value every method states (`lowest`: metric → method → value or None) must be reachable by one."""
    for c in constraints:
        if c.metric not in known_metrics:
            raise ConstraintError(
                f"constraint {c.text!r} names unknown metric {c.metric!r}; "
                f"metrics in this run: {', '.join(sorted(known_metrics))}"
            )
        reach = (lowest or {}).get(c.metric, {})
        if c.op in ("<=", "<") and not c.relative and reach and all(v is not None for v in reach.values()):
            best = min(reach.values())
            if best > c.threshold(None) or (c.op == "<" and best == c.threshold(None)):
                each = ", ".join(f"{name} {v:.4g}" for name, v in sorted(reach.items()))
                raise ConstraintError(
                    f"no strategy can meet {c.text!r}: the lowest {c.metric} the methods of this "
                    f"run reach is {best:.4g} ({each})"
                )
