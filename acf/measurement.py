"""Measurements: every number carries its interval, sample count and provenance."""

from __future__ import annotations

import math
import statistics
from typing import Callable, Sequence

from pydantic import BaseModel

Z95 = 1.959963984540054


class Measurement(BaseModel):
    """A measured value with a 95% interval [low, high] over `n` samples.

    `fidelity` names how it was measured (e.g. `loglik` or `full`); `estimated` is true when the
    number comes from a model of the hardware rather than a reading (e.g. energy without a counter).
    """

    value: float
    low: float
    high: float
    n: int = 1
    unit: str = ""
    fidelity: str = "full"
    estimated: bool = False

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


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float, float, float]:
    """Mean and its normal-approximation 95% interval."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return mean, mean, mean
    half = z * statistics.stdev(values) / math.sqrt(n)
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
