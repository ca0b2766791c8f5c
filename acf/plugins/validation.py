"""Whether a strategy can run: known methods that apply to the model, parameters in range, a legal step order."""

from __future__ import annotations

from acf.errors import StrategyError
from acf.plugins.method import Method
from acf.types.spec import ModelSpec
from acf.types.strategy import Step, Strategy


def check_order(pipeline: tuple[str, ...], methods: dict[str, Method]) -> str | None:
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


def validate_strategy(strategy: Strategy, methods: dict[str, Method], spec: ModelSpec) -> Strategy:
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
