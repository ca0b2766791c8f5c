"""A strategy is an ordered list of steps `{method, params}`, validated before any work starts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from acf.errors import StrategyError

if TYPE_CHECKING:
    from acf.plugins.method import Method
    from acf.models.spec import ModelSpec


class Step(BaseModel):
    method: str
    params: dict[str, Any] = Field(default_factory=dict)

    def describe(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{self.method}({inner})"


class Strategy(BaseModel):
    steps: list[Step] = Field(default_factory=list)

    @property
    def pipeline(self) -> tuple[str, ...]:
        return tuple(s.method for s in self.steps)

    def key(self) -> str:
        """A stable hash of the strategy: the same steps and parameters give the same key."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> str:
        return " → ".join(s.describe() for s in self.steps) or "baseline"


def load_strategies(path: str | Path) -> list[Strategy]:
    """Strategies from a JSON file: one `{"steps": [{"method": ..., "params": {...}}]}` or a list of them."""
    from pydantic import ValidationError

    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise StrategyError(f"cannot read strategy file {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StrategyError(f"{path} is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    strategies = []
    for i, item in enumerate(items, 1):
        unknown = sorted(set(item) - {"steps"}) if isinstance(item, dict) else []
        if unknown:
            raise StrategyError(f"{path}: strategy {i} has unknown key(s) {', '.join(unknown)}; expected only \"steps\"")
        try:
            strategies.append(Strategy.model_validate(item))
        except ValidationError as exc:
            where = ".".join(str(x) for x in exc.errors()[0]["loc"]) or "top level"
            raise StrategyError(
                f"{path}: strategy {i} is not {{\"steps\": [{{\"method\": ..., \"params\": {{...}}}}]}} "
                f"({where}: {exc.errors()[0]['msg']})"
            ) from None
    return strategies


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def check_order(pipeline: tuple[str, ...], methods: dict[str, "Method"]) -> str | None:
    """Why this order of methods is illegal, or None when it is legal.

    Steps run in non-decreasing `stage` (prune → distill → recover → quantize → quantized recovery);
    a method appears at most once; an `exclusive_stage` method shares its stage with no other step.
    """
    seen: set[str] = set()
    for i, name in enumerate(pipeline):
        if name in seen:
            return f"{name} appears twice"
        seen.add(name)
        cur = methods[name]
        if i > 0:
            prev = methods[pipeline[i - 1]]
            if cur.stage < prev.stage:
                return f"{name} ({cur.stage.name.lower()}) cannot follow {prev.name} ({prev.stage.name.lower()})"
            if cur.stage == prev.stage and (cur.exclusive_stage or prev.exclusive_stage):
                return f"{name} and {prev.name} are both {cur.stage.name.lower()} steps; use one"
        reason = cur.may_follow(pipeline[:i])
        if reason:
            return reason
    return None


def validate_strategy(strategy: Strategy, methods: dict[str, "Method"], spec: "ModelSpec") -> Strategy:
    """Check names, parameters and order; return the strategy with defaults filled in."""
    if not strategy.steps:
        raise StrategyError("a strategy needs at least one step")
    steps = []
    for i, step in enumerate(strategy.steps):
        if step.method not in methods:
            raise StrategyError(
                f"step {i + 1}: unknown method {step.method!r}; available: {', '.join(sorted(methods))}"
            )
        method = methods[step.method]
        why_not = method.applies_to(spec)
        if why_not:
            raise StrategyError(f"step {i + 1}: {step.method} does not apply to this model: {why_not}")
        params = method.space(spec).validate_values(step.params, where=f"step {i + 1} ({step.method})")
        steps.append(Step(method=step.method, params=params))
    reason = check_order(tuple(s.method for s in steps), methods)
    if reason:
        raise StrategyError(f"invalid step order {' → '.join(s.method for s in steps)}: {reason}")
    return Strategy(steps=steps)
