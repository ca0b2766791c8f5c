"""The strategy space searchers see: which pipeline of methods, then each method's parameters."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from acf.plugins.validation import check_order
from acf.types.space import Choice, Space
from acf.types.strategy import Step, Strategy

if TYPE_CHECKING:
    from acf.plugins.method import Method
    from acf.types.spec import ModelSpec

PIPELINE = "pipeline"


def enumerate_pipelines(methods: dict[str, "Method"], max_steps: int) -> list[tuple[str, ...]]:
    """Every legal ordered combination of 1..max_steps distinct methods."""
    names = sorted(methods)
    pipelines = []
    for k in range(1, max_steps + 1):
        for combo in itertools.permutations(names, k):
            if check_order(combo, methods) is None:
                pipelines.append(combo)
    return pipelines


def strategy_space(methods: dict[str, "Method"], spec: "ModelSpec", pipelines: list[tuple[str, ...]]) -> Space:
    """A conditional space: `pipeline` first, then `method.param` active when the pipeline uses the method."""
    options = ["+".join(p) for p in pipelines]
    params: list[Any] = [Choice(name=PIPELINE, options=options, help="which methods, in order")]
    for name in sorted(methods):
        using = [o for o, p in zip(options, pipelines) if name in p]
        if not using:
            continue
        for p in methods[name].space(spec).params:
            when = {PIPELINE: using, **{f"{name}.{k}": v for k, v in p.when.items()}}
            params.append(p.model_copy(update={"name": f"{name}.{p.name}", "when": when}))
    return Space(params=params)


def point_to_strategy(point: dict[str, Any]) -> Strategy:
    steps = []
    for method in point[PIPELINE].split("+"):
        prefix = f"{method}."
        steps.append(
            Step(method=method, params={k[len(prefix) :]: v for k, v in point.items() if k.startswith(prefix)})
        )
    return Strategy(steps=steps)


def strategy_to_point(strategy: Strategy) -> dict[str, Any]:
    """The searcher's point for a (validated) strategy: the inverse of `point_to_strategy`."""
    point: dict[str, Any] = {PIPELINE: "+".join(strategy.pipeline)}
    for step in strategy.steps:
        point.update({f"{step.method}.{k}": v for k, v in step.params.items()})
    return point
