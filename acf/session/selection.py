"""Which registered plugins a session uses: the task named by `--dataset`, the methods that apply to the model and
fit the episode budget, the evaluators asked for."""

from __future__ import annotations

from typing import Any

from acf.errors import AcfError, UnknownPluginError
from acf.plugins.evaluator import split_task
from acf.plugins.registry import Registry
from acf.session.preflight import Preflight
from acf.types.spec import ModelSpec


def choose_task(reg: Registry, text: str, options: dict[str, dict[str, Any]]) -> Any:
    name, own = split_task(text, options)
    tasks = [n for n, cls in reg.all("evaluator").items() if cls.is_task]
    if name not in tasks:
        raise UnknownPluginError("dataset", name, tasks)
    return reg.get("evaluator", name)(**own)


def choose_methods(
    reg: Registry, wanted: list[str], spec: ModelSpec, preflight: Preflight, model_name: str
) -> dict[str, Any]:
    """`wanted` (each must apply: else an error), or every registered method that applies, fits the episode
    budget at its fastest setting and takes part in default runs."""
    methods = {}
    for name in wanted or sorted(n for n, cls in reg.all("method").items() if cls.in_default_runs):
        method = reg.get("method", name)()
        why_not = method.applies_to(spec)
        if not why_not:
            fastest = min(preflight.seconds(method, point) for point in method.space(spec).variations(2) or [{}])
            if fastest > preflight.budget_s:
                why_not = (
                    f"its fastest setting needs about {fastest:.0f} s per episode here, over the "
                    f"{preflight.budget_s:.0f} s episode budget (raise --episode-budget)"
                )
        if why_not and wanted:
            raise AcfError(f"method {name} does not apply to {model_name}: {why_not}")
        if not why_not:
            methods[name] = method
    if not methods:
        raise AcfError(f"no compression method applies to {model_name}")
    return methods


def choose_evaluators(reg: Registry, task: Any, names: list[str], options: dict[str, dict[str, Any]]) -> list[Any]:
    """The task first, then each named evaluator once; options for an evaluator not in the run are an error."""
    out = [task] if task else []
    for text in dict.fromkeys(names):
        name, own = split_task(text, options)
        if task is None or name != task.name:
            out.append(reg.get("evaluator", name)(**own))
    unknown = set(options) - {ev.name for ev in out}
    if unknown:
        raise AcfError(f"options given for evaluator(s) not in this run: {', '.join(sorted(unknown))}")
    return out
