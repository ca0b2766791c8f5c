"""`acf eval`: measure a model, or a candidate of a run, with any evaluators (outside a search).

Goes through the same `Run.measure` as a search, so results share its evaluation cache: evaluating a run's
candidate at the fidelity the search used costs nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from acf.errors import AcfError
from acf.measure import Measurement
from acf.progress import Progress


def split_target(target: str) -> tuple[Path | None, str | None]:
    """`RUN_DIR` or `RUN_DIR:epNNN` (a run's candidate; plain RUN_DIR: its recommended pick), else (None, None)."""
    path, _, candidate = target.rpartition(":") if ":" in target and not Path(target).exists() else (target, "", "")
    run_dir = Path(path)
    if (run_dir / "run_config.json").is_file():
        return run_dir, candidate or None
    return None, None


def pick_fidelity(evaluator: Any, fidelity: str) -> str:
    if fidelity == "full":
        return evaluator.fidelities[-1]
    if fidelity == "cheap":
        return evaluator.fidelities[0]
    if fidelity not in evaluator.fidelities:
        raise AcfError(f"evaluator {evaluator.name} has no fidelity {fidelity!r}; it has: cheap, full, "
                       f"{', '.join(evaluator.fidelities)}")
    return fidelity


def evaluate(target: str, tasks: list[str], *, fidelity: str = "full",
             evaluator_options: dict[str, dict[str, Any]] | None = None, device: str = "auto", dtype: str = "auto",
             trust_remote_code: bool = False, progress: Progress | None = None) -> tuple[str, dict[str, Measurement]]:
    """Measure `target` (a model, a run directory or `RUN_DIR:epNNN`) with `tasks`; returns (what, measurements)."""
    from acf.api import find_candidate, open_run
    from acf.config import RunConfig
    from acf.coordinator import Run
    from acf.plugins import registry
    from acf.strategy import validate_strategy

    if not tasks:
        raise AcfError("name what to measure with --tasks, e.g. --tasks gsm8k,latency")
    reg = registry()
    classes = [reg.get("evaluator", name) for name in dict.fromkeys(tasks)]
    options = evaluator_options or {}
    unknown = set(options) - {cls.name for cls in classes}
    if unknown:
        raise AcfError(f"options given for evaluator(s) not in --tasks: {', '.join(sorted(unknown))}")
    run_dir, candidate_id = split_target(target)
    if run_dir is not None:
        candidate = find_candidate(run_dir, candidate_id)
        run = open_run(run_dir, progress=progress or False)
        strategy = validate_strategy(candidate.strategy, run.methods, run.spec)
        what = f"{run_dir}:{candidate.id} ({strategy.describe()})"
    else:
        task = next((cls.name for cls in classes if cls.is_task), None)
        if task is None:
            names = ", ".join(sorted(n for n, c in reg.all("evaluator").items() if c.is_task))
            raise AcfError(f"--tasks needs at least one task ({names}); cost evaluators come with it")
        primary = reg.get("evaluator", task)(**options.get(task, {}))
        config = RunConfig(model=target, dataset=task, evaluators=[c.name for c in classes if c.name != task],
                           objectives=[primary.primary_metric(primary.default_fidelity)], evaluator_options=options,
                           device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        run = Run(config, Path(tempfile.gettempdir()) / "acf-eval-unused", progress=progress)
        run.prepare()
        strategy, what = None, target
    evaluators = [cls(**options.get(cls.name, {})) for cls in classes]
    for ev in evaluators:
        ev.prepare(run.ctx)
    measurements, _ = run.measure(strategy, evaluators=evaluators,
                                  fidelity={ev.name: pick_fidelity(ev, fidelity) for ev in evaluators})
    return what, measurements
