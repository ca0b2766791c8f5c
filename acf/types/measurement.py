"""Measurements: every number carries its interval, sample count and provenance."""

from __future__ import annotations

import math
import statistics
from typing import Callable, Sequence

from pydantic import BaseModel, Field

Z95 = 1.959963984540054
# The fidelity of a cost timed with one repeat (a candidate dominated on accuracy even at its best case).
QUICK = "quick"


class Measurement(BaseModel):
    """A measured value with a 95% interval [low, high] over `n` samples.

    `fidelity` names how it was measured (e.g. `loglik` or `full`); `estimated` is true when the
    number comes from a model of the hardware rather than a reading (e.g. energy without a counter).
    A cost (latency, throughput, memory, energy) names the `runtime` that measured it and the candidate's
    `format`; `simulated` is true when that runtime does not run the format natively (weights quantized in
    simulation timed as the dense model), so the number is not the deployed model's.
    """

    value: float
    low: float
    high: float
    n: int = 1
    unit: str = ""
    fidelity: str = "full"
    estimated: bool = False
    # Caveats about how this number was obtained (e.g. how generated code was isolated), shown with it.
    notes: list[str] = Field(default_factory=list)
    # Which items were scored, e.g. "validation[0:100] of 1221 (tau/commonsense_qa, the Hub)".
    items: str | None = None
    runtime: str | None = None
    format: str | None = None
    simulated: bool = False
    # A cost's value as predicted before it was timed (`acf.session.costs`: from the bytes and parameters the
    # runtime runs).
    predicted: float | None = None

    def caveats(self) -> str:
        """What to append wherever the value is shown: ` (estimated)`, ` (simulated on hf: pack-quantized-w4)`,
        ` (quick timing)` for a cost timed once because the candidate was dominated even at its best case."""
        out = " (estimated)" if self.estimated else ""
        if self.simulated:
            out += f" (simulated on {self.runtime}: {self.format})" if self.runtime else " (simulated)"
        if self.fidelity == QUICK:
            out += " (quick timing)"
        return out

    @classmethod
    def exact(cls, value: float, **kw) -> "Measurement":
        return cls(value=value, low=value, high=value, **kw)

    def overlaps(self, other: "Measurement") -> bool:
        return self.low <= other.high and other.low <= self.high


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (better than the normal one near 0 and 1)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp so rounding never leaves the observed proportion outside its own interval (e.g. at p = 0).
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


def proportion(successes: int, n: int, **kw) -> Measurement:
    low, high = wilson_interval(successes, n)
    return Measurement(value=successes / n if n else 0.0, low=low, high=high, n=n, **kw)


# Student's t, two-sided 95% (the 0.975 quantile), for 1..30 degrees of freedom.
T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t975(df: int) -> float:
    """The t distribution's 0.975 quantile: the table up to 30 degrees of freedom, then the Cornish–Fisher
    expansion around the normal quantile (error below 1e-4 there)."""
    if df <= len(T975):
        return T975[max(df, 1) - 1]
    z = Z95
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values: Sequence[float], z: float | None = None) -> tuple[float, float, float]:
    """Mean and its 95% interval: Student's t for the sample size (the normal one is too narrow for small n),
    or the given `z`."""
    n = len(values)
    if not all(math.isfinite(v) for v in values):
        return math.nan, math.nan, math.nan  # a broken model's scores: the session fails the measurement
    mean = statistics.fmean(values)
    if n < 2:
        return mean, mean, mean
    half = (z or t975(n - 1)) * statistics.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half


def mean(values: Sequence[float], **kw) -> Measurement:
    value, low, high = mean_interval(values)
    return Measurement(value=value, low=low, high=high, n=len(values), **kw)


def bootstrap_interval(
    samples: Sequence, statistic: Callable[[list], float], *, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of `statistic` over resampled `samples` (seeded, reproducible)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(samples)
    if n < 2:
        v = statistic(list(samples))
        return v, v
    stats = sorted(statistic([samples[i] for i in rng.integers(0, n, n)]) for _ in range(resamples))
    return stats[int(0.025 * (resamples - 1))], stats[int(math.ceil(0.975 * (resamples - 1)))]


def median(values: Sequence[float], **kw) -> Measurement:
    """Median with a bootstrap interval (used for timings, whose noise is not normal)."""
    v = statistics.median(values)
    low, high = bootstrap_interval(list(values), statistics.median)
    return Measurement(value=v, low=min(low, v), high=max(high, v), n=len(values), **kw)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def best_index(scores: Sequence[float]) -> int:
    """Index of the largest finite score (the first on ties, as numpy's argmax), or -1 when none is finite.

    NaN never wins: `max(range(n), key=...)` returns 0 when the first score is NaN, which would make a model that
    outputs NaN pick the first choice every time (TruthfulQA's gold is always the first).
    """
    best, index = -math.inf, -1
    for i, s in enumerate(scores):
        if math.isfinite(s) and (index < 0 or s > best):
            best, index = s, i
    return index


def all_finite(measurement: Measurement) -> bool:
    return all(math.isfinite(x) for x in (measurement.value, measurement.low, measurement.high))
