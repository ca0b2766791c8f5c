"""Where candidates are evaluated: `local` (one at a time, in this process) or on Ray workers (`acf.search.ray`).

An executor takes points (`submit`) and gives back `Outcome`s as they finish (`wait`); the search loop owns the
run directory, the searcher and the frontier. What travels is plain JSON: a point and a frontier snapshot out, an
outcome back — never a model.
"""

from __future__ import annotations

import functools
import time
import traceback
from typing import Any

from pydantic import BaseModel, Field

from acf.errors import StrategyError
from acf.plugins.method import Method
from acf.search.deadline import deadline, describe_failure
from acf.search.pipelines import point_to_strategy
from acf.session.preflight import PreflightRefused
from acf.session.references import measure_reference
from acf.system.gpu_monitor import GpuMemoryMonitor
from acf.types.frontier import Frontier, dominated_at_best
from acf.types.measurement import Measurement
from acf.types.strategy import Step, Strategy


class Outcome(BaseModel):
    """What evaluating one point gave: its (validated) strategy, status and measurements, what the steps recorded."""

    strategy: Strategy
    status: str
    reason: str | None = None
    measurements: dict[str, Measurement] = Field(default_factory=dict)
    cached: bool = False
    steps: list[dict[str, Any]] = Field(default_factory=list)
    gpu_memory_peak_mb: float | None = None
    seconds: float = 0.0
    error: str | None = None  # a failed episode's traceback (error.txt)
    worker: str | None = None
    attempts: int = 1


def evaluate_point(
    session: Any, point: dict[str, Any], *, timeout_s: float | None, frontier: Frontier | None
) -> Outcome:
    """One episode's work: validate, pre-flight, apply, measure (its costs timed once when `frontier` dominates it
    even at its best case). A failure is an outcome, never an exception."""
    started = time.time()
    outcome = Outcome(strategy=point_to_strategy(point), status="ok")
    screen = functools.partial(dominated_at_best, frontier) if frontier is not None and frontier.candidates else None
    try:
        strategy = session.validate(outcome.strategy)
        outcome.strategy = strategy
        with deadline(timeout_s), GpuMemoryMonitor(session.device) as gpu:
            measurements, cached, steps = session.measure(strategy, screen=screen)
        outcome = outcome.model_copy(
            update={"measurements": measurements, "cached": cached, "steps": steps, "gpu_memory_peak_mb": gpu.peak_mb}
        )
    except PreflightRefused as exc:
        outcome = outcome.model_copy(update={"status": "skipped", "reason": str(exc)})
    except StrategyError as exc:
        outcome = outcome.model_copy(update={"status": "skipped", "reason": f"invalid strategy: {exc}"})
    except Exception as exc:  # a failing step or evaluator fails the episode, not the run
        outcome = outcome.model_copy(
            update={"status": "failed", "reason": describe_failure(exc), "error": traceback.format_exc()}
        )
    finally:
        session.release()
    outcome.seconds = round(time.time() - started, 3)
    return outcome


class Executor:
    """Evaluates points for the search loop: up to `slots` at once."""

    slots: int = 1

    def baseline(self) -> dict[str, Measurement]:
        """The uncompressed model's measurements, taken where the candidates are."""
        raise NotImplementedError

    def suggest(self, budgets: dict[str, float]) -> list[dict[str, Any]]:
        """Strategies (JSON) the run's methods suggest from the model (`Method.suggest`)."""
        raise NotImplementedError

    def reference(self, runtime: str) -> dict[str, Measurement]:
        """The uncompressed model's costs on `runtime`, taken where the candidates are."""
        raise NotImplementedError

    def submit(self, episode: int, point: dict[str, Any], frontier: Frontier | None) -> None:
        raise NotImplementedError

    def wait(self) -> list[tuple[int, Outcome]]:
        """At least one finished episode (number, outcome); blocks until there is one."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (a Ray run's actors); the local executor holds nothing."""


def suggestions(session: Any, budgets: dict[str, float]) -> list[dict[str, Any]]:
    """Every method's suggestions as one-step strategies (JSON); a method that cannot suggest is skipped, said."""
    out = []
    # only methods that suggest: asking loads the model, which a fully cached run never needs
    for name, method in ((n, m) for n, m in session.methods.items() if type(m).suggest is not Method.suggest):
        try:
            suggested = method.suggest(session.base_model, session.ctx, budgets)
        except Exception as exc:  # too little text, say: the run goes on without them
            session.progress.log(f"{name} suggested nothing: {describe_failure(exc)}")
            continue
        out += [Strategy(steps=[Step(method=name, params=p)]).model_dump(mode="json") for p in suggested]
    return out


class LocalExecutor(Executor):
    """One candidate at a time, in this process, on the search's own session."""

    slots = 1

    def __init__(self, session: Any, timeout_s: float | None):
        self.session, self.timeout_s = session, timeout_s
        self.queue: list[tuple[int, dict[str, Any], Frontier | None]] = []

    def baseline(self) -> dict[str, Measurement]:
        return self.session.measure(None)[0]

    def suggest(self, budgets: dict[str, float]) -> list[dict[str, Any]]:
        return suggestions(self.session, budgets)

    def reference(self, runtime: str) -> dict[str, Measurement]:
        return measure_reference(self.session, runtime)

    def submit(self, episode: int, point: dict[str, Any], frontier: Frontier | None) -> None:
        self.queue.append((episode, point, frontier))

    def wait(self) -> list[tuple[int, Outcome]]:
        episode, point, frontier = self.queue.pop(0)
        return [(episode, evaluate_point(self.session, point, timeout_s=self.timeout_s, frontier=frontier))]
