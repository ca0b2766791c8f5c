"""Typed search spaces: the parameters a method declares, which searchers sample without knowing the method."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field

from acf.errors import StrategyError


class _Param(BaseModel):
    name: str
    help: str = ""
    # Active only when every named parameter takes one of the listed values (a conditional space).
    when: dict[str, list[Any]] = Field(default_factory=dict)

    def is_active(self, values: dict[str, Any]) -> bool:
        return all(values.get(key) in allowed for key, allowed in self.when.items())


class Choice(_Param):
    """One of a finite list of values (numbers, strings, booleans)."""

    type: Literal["choice"] = "choice"
    options: list[Any]
    default: Any = None

    def check(self, value: Any) -> Any:
        if value not in self.options:
            raise StrategyError(f"{self.name}={value!r} is not one of {self.options}")
        return value

    def initial(self) -> Any:
        return self.options[0] if self.default is None else self.default

    def sample(self, rng) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def levels(self, n: int) -> list[Any]:
        return list(self.options)

    def neighbours(self, value: Any) -> list[Any]:
        """The options next to `value` in the list (ordered options: one step either way)."""
        if value not in self.options:
            return []
        i = self.options.index(value)
        return [self.options[j] for j in (i - 1, i + 1) if 0 <= j < len(self.options)]


class Int(_Param):
    """An integer in [low, high]; `log` samples it on a log scale."""

    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    default: int | None = None

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise StrategyError(f"{self.name}={value!r} is not an integer")
        if not self.low <= value <= self.high:
            raise StrategyError(f"{self.name}={value} is outside [{self.low}, {self.high}]")
        return int(value)

    def initial(self) -> int:
        return self.low if self.default is None else self.default

    def sample(self, rng) -> int:
        if self.log:
            return int(round(math.exp(rng.uniform(math.log(self.low), math.log(self.high)))))
        return int(rng.integers(self.low, self.high + 1))

    def levels(self, n: int) -> list[int]:
        if self.high - self.low + 1 <= n:
            return list(range(self.low, self.high + 1))
        return sorted({int(round(v)) for v in _spread(self.low, self.high, n, self.log)})

    def neighbours(self, value: Any) -> list[int]:
        """A step either way: a quarter of the range (a factor of 2 on a log scale), at least 1."""
        steps = (
            [value // 2, value * 2]
            if self.log
            else [value - max(1, (self.high - self.low) // 4), value + max(1, (self.high - self.low) // 4)]
        )
        return [int(v) for v in dict.fromkeys(min(self.high, max(self.low, v)) for v in steps) if v != value]


class Float(_Param):
    """A real number in [low, high]; `log` samples it on a log scale (learning rates, damping)."""

    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    default: float | None = None

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise StrategyError(f"{self.name}={value!r} is not a number")
        if not self.low <= value <= self.high:
            raise StrategyError(f"{self.name}={value} is outside [{self.low}, {self.high}]")
        return float(value)

    def initial(self) -> float:
        return self.low if self.default is None else self.default

    def sample(self, rng) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def levels(self, n: int) -> list[float]:
        return [float(f"{v:.6g}") for v in _spread(self.low, self.high, n, self.log)]

    def neighbours(self, value: Any) -> list[float]:
        """A step either way: an eighth of the range (a factor of 2 on a log scale)."""
        step = (self.high - self.low) / 8
        steps = [value / 2, value * 2] if self.log else [value - step, value + step]
        return [float(f"{v:.6g}") for v in dict.fromkeys(min(self.high, max(self.low, v)) for v in steps) if v != value]


Param = Annotated[Union[Choice, Int, Float], Field(discriminator="type")]


def _spread(low: float, high: float, n: int, log: bool) -> list[float]:
    if n == 1:
        return [low]
    if log:
        a, b = math.log(low), math.log(high)
        return [math.exp(a + (b - a) * i / (n - 1)) for i in range(n)]
    return [low + (high - low) * i / (n - 1) for i in range(n)]


class Space(BaseModel):
    """An ordered list of parameters; a parameter's `when` may refer only to parameters before it."""

    params: list[Param] = Field(default_factory=list)

    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def validate_values(self, values: dict[str, Any], *, where: str = "") -> dict[str, Any]:
        """Check `values` against the space; return only the active parameters, defaults filled in."""
        known = set(self.names())
        unknown = sorted(set(values) - known)
        prefix = f"{where}: " if where else ""
        if unknown:
            raise StrategyError(f"{prefix}unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        out: dict[str, Any] = {}
        for p in self.params:
            if not p.is_active(out):
                continue
            try:
                out[p.name] = p.check(values[p.name]) if p.name in values else p.initial()
            except StrategyError as exc:
                raise StrategyError(f"{prefix}{exc}") from None
        return out

    def active(self, values: dict[str, Any]) -> dict[str, Any]:
        """The subset of a full assignment that is active (inactive parameters are dropped)."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.is_active(out) and p.name in values:
                out[p.name] = values[p.name]
        return out

    def sample(self, rng) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in self.params:
            if p.is_active(out):
                out[p.name] = p.sample(rng)
        return out

    def grid(self, levels: int = 4) -> list[dict[str, Any]]:
        """Every combination of each active parameter's levels (floats and wide ints get `levels` points)."""
        points: list[dict[str, Any]] = [{}]
        for p in self.params:
            grown: list[dict[str, Any]] = []
            for point in points:
                if p.is_active(point):
                    grown.extend({**point, p.name: v} for v in p.levels(levels))
                else:
                    grown.append(point)
            points = grown
        unique = {tuple(sorted(p.items(), key=lambda kv: kv[0])): p for p in points}
        return list(unique.values())

    def grid_size(self, levels: int = 4, cap: int = 1_000_000) -> int:
        """How many points `grid(levels)` has, counted without keeping more than `cap` of them: `cap + 1` means
        more than `cap` (a per-layer allocation space has ~10^100)."""
        points: list[dict[str, Any]] = [{}]
        for p in self.params:
            grown: list[dict[str, Any]] = []
            for point in points:
                grown.extend({**point, p.name: v} for v in p.levels(levels)) if p.is_active(point) else grown.append(
                    point
                )
                if len(grown) > cap:  # the grid only grows from here
                    return cap + 1
            points = grown
        return len({tuple(sorted(point.items(), key=lambda kv: kv[0])) for point in points})

    def variations(self, levels: int = 2, limit: int = 4096) -> list[dict[str, Any]]:
        """`grid(levels)` when it has at most `limit` points; else the initial point and each parameter alone at
        each of its levels (one at a time), for spaces too large to enumerate (per-layer allocations)."""
        if self.grid_size(levels, cap=limit) <= limit:
            return self.grid(levels)
        base = self.validate_values({})
        points = {tuple(sorted(base.items())): base}
        for p in self.params:
            for v in p.levels(levels):
                point = self.validate_values({**base, p.name: v}) if p.name in base else None
                if point is not None:
                    points[tuple(sorted(point.items()))] = point
        return list(points.values())


__all__ = ["Choice", "Int", "Float", "Param", "Space"]
