"""The Python API the CLI is a thin layer over: `compress`, `resume`, `load_run`, `evaluate`, `export`."""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acf.errors import AcfError, RunStoreError
from acf.models.export import export_candidate
from acf.plugins.evaluator import split_task
from acf.plugins.manager import registry
from acf.rundir.store import RunStore, is_run_dir
from acf.search.loop import Search
from acf.session.session import Session
from acf.system.progress import Progress, RichProgress
from acf.types.config import RunConfig, SessionOptions
from acf.types.frontier import Frontier
from acf.types.measurement import Measurement
from acf.types.options import OPTIONS
from acf.types.results import EpisodeResult


@dataclass
class CompressResult:
    """What a finished run found: the frontier, the recommended pick and every candidate."""

    run_dir: Path
    frontier: Frontier
    candidates: list[EpisodeResult]

    @property
    def recommended(self) -> EpisodeResult | None:
        return next((c for c in self.candidates if c.id == self.frontier.recommended), None)

    @property
    def baseline(self) -> dict[str, Any]:
        return self.frontier.baseline


def default_run_dir(model: str, dataset: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model.rstrip("/").split("/")[-1]).strip("-") or "model"
    task = dataset.replace(":", "-")
    return Path("runs") / f"{slug}-{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def compress(
    model: str,
    dataset: str,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool | Progress = False,
    **options: Any,
) -> CompressResult:
    """Search for compressed versions of `model` on task `dataset`.

    `options` are `RunConfig`'s fields (episodes, searcher, seed, constraints, …; see `acf compress --help`).
    """
    config = RunConfig.build(model=model, dataset=dataset, **options)
    if run_dir is None:
        if resume:
            raise RunStoreError("--resume needs the --run-dir of the run to continue")
        run_dir = default_run_dir(model, dataset)
    search = Search(config, Path(run_dir), resume=resume, progress=reporter(progress))
    frontier = search.execute()
    return CompressResult(run_dir=Path(run_dir), frontier=frontier, candidates=search.candidates)


def resume(run_dir: str | Path, *, progress: bool | Progress = False, **placement: Any) -> CompressResult:
    """Continue a killed or interrupted run with its stored settings; finished episodes are kept. `placement`
    may change where it runs (`executor`, `ray_address`, `workers`, `gpus_per_candidate`, `tell_order`)."""
    store = RunStore(Path(run_dir))
    if not store.exists():
        raise RunStoreError(f"nothing to resume: {run_dir} holds no run (no run_config.json)")
    stored = store.read_config()
    wrong = sorted(k for k in placement if k not in OPTIONS or not OPTIONS[k].placement)
    if wrong:
        raise AcfError(
            f"a resumed run keeps its search settings; only where it runs may change, not {', '.join(wrong)}"
        )
    config = RunConfig.build(**{**stored.model_dump(), **placement}) if placement else stored
    search = Search(config, Path(run_dir), resume=True, progress=reporter(progress))
    frontier = search.execute()
    return CompressResult(run_dir=Path(run_dir), frontier=frontier, candidates=search.candidates)


def load_run(run_dir: str | Path) -> CompressResult:
    """Read a run directory (finished or not) without running anything."""
    store = RunStore(Path(run_dir))
    if not store.exists():
        raise RunStoreError(f"{run_dir} is not an acf run directory (no run_config.json)")
    return CompressResult(run_dir=Path(run_dir), frontier=store.read_frontier(), candidates=store.finished_episodes())


def find_candidate(run_dir: str | Path, candidate_id: str | None = None) -> EpisodeResult:
    """A finished, ok candidate of a run (default: the recommended pick), or a clear error."""
    result = load_run(run_dir)
    candidate_id = candidate_id or result.frontier.recommended
    candidate = next((c for c in result.candidates if c.id == candidate_id), None)
    if candidate is None:
        known = ", ".join(c.id for c in result.candidates if c.status == "ok") or "none"
        raise RunStoreError(f"{run_dir} has no candidate {candidate_id!r}; finished candidates: {known}")
    if candidate.status != "ok":
        raise RunStoreError(
            f"candidate {candidate_id} {candidate.status} ({candidate.reason}); only ok candidates can be used"
        )
    return candidate


def run_session(run_dir: str | Path, *, config: RunConfig | None = None, progress: bool | Progress = False) -> Session:
    """A Session with a stored run's settings (same model, methods, calibration and seed), to rebuild candidates."""
    config = config or RunStore(Path(run_dir)).read_config()
    return Session.from_config(config, work_dir=Path(run_dir), progress=reporter(progress))


def split_target(target: str) -> tuple[Path | None, str | None]:
    """`RUN_DIR` or `RUN_DIR:epNNN` (a run's candidate; plain RUN_DIR: its recommended pick), else (None, None)."""
    path, _, candidate = target.rpartition(":") if ":" in target and not Path(target).exists() else (target, "", "")
    if is_run_dir(Path(path)):
        return Path(path), candidate or None
    return None, None


# The fidelity aliases `acf eval` takes besides an evaluator's own fidelity names (which win where they clash).
HIGHEST, CHEAPEST = "highest", "cheapest"
# Their older spellings, still accepted: "full" was also a fidelity's own name, hence the new ones.
DEPRECATED_FIDELITY = {"full": HIGHEST, "cheap": CHEAPEST}


def pick_fidelity(evaluator: Any, fidelity: str) -> str:
    if fidelity in evaluator.fidelities:
        return fidelity
    if fidelity in DEPRECATED_FIDELITY:
        new = DEPRECATED_FIDELITY[fidelity]
        warnings.warn(f"--fidelity {fidelity} is deprecated: write {new}", stacklevel=2)
        fidelity = new
    if fidelity == HIGHEST:
        return evaluator.fidelities[-1]
    if fidelity == CHEAPEST:
        return evaluator.fidelities[0]
    raise AcfError(
        f"evaluator {evaluator.name} has no fidelity {fidelity!r}; it has: {CHEAPEST}, {HIGHEST}, "
        f"{', '.join(evaluator.fidelities)}"
    )


def evaluate(
    target: str, evaluators: list[str], *, fidelity: str = HIGHEST, progress: bool | Progress = False, **options: Any
) -> tuple[str, dict[str, Measurement]]:
    """Measure `target` (a model, a run directory or `RUN_DIR:epNNN`) with `evaluators` (tasks and costs); returns
    (what, measurements). `options` are session options (`device`, `dtype`, `runtime`, `trust_remote_code`,
    `evaluator_options`; see `acf.types.options`); a run's candidate is measured with the run's own.

    Goes through the same `Session.measure` as a search, so a run's candidate at the fidelity the search used
    comes from the evaluation cache.
    """
    if not evaluators:
        raise AcfError("name what to measure with --evaluators, e.g. --evaluators gsm8k,latency")
    reg = registry()
    given = SessionOptions.build(model=target, **options)
    named = [split_task(text, given.evaluator_options) for text in dict.fromkeys(evaluators)]
    classes = [reg.get("evaluator", name) for name, _ in named]
    unknown = set(given.evaluator_options) - {cls.name for cls in classes}
    if unknown:
        raise AcfError(f"options given for evaluator(s) not in --evaluators: {', '.join(sorted(unknown))}")
    run_dir, candidate_id = split_target(target)
    if run_dir is not None:
        candidate = find_candidate(run_dir, candidate_id)
        session = run_session(run_dir, progress=progress)
        strategy = session.validate(candidate.strategy)
        what = f"{run_dir}:{candidate.id} ({strategy.describe()})"
    else:
        task = next((cls.name for cls in classes if cls.is_task), None)
        if task is None:
            names = ", ".join(sorted(n for n, c in reg.all("evaluator").items() if c.is_task))
            raise AcfError(f"--evaluators needs at least one task ({names}); cost evaluators come with it")
        session_options = given.model_copy(update={"dataset": task, "evaluator_options": {task: dict(named)[task]}})
        session = Session(session_options, progress=reporter(progress))
        strategy, what = None, target
    measuring = [cls(**own) for cls, (_, own) in zip(classes, named)]
    for ev in measuring:
        ev.prepare(session.ctx)
    measurements, _, _ = session.measure(
        strategy, evaluators=measuring, fidelity={ev.name: pick_fidelity(ev, fidelity) for ev in measuring}
    )
    return what, measurements


def export(
    run_dir: str | Path,
    out: str | Path,
    *,
    candidate: str | None = None,
    format: str = "native",
    progress: bool | Progress = False,
) -> Path:
    """Rebuild a run's candidate (default: the recommended pick) and write what was measured to the folder `out`:
    its GGUF file, or its Hugging Face folder (`format="hf"`: a Hugging Face folder whatever it was), checked by a
    round trip in the runtime that measured it (`acf_export.json` in `out` says how it went)."""
    picked = find_candidate(run_dir, candidate)
    if Path(out).exists() and any(Path(out).iterdir()):
        raise AcfError(f"{out} already exists and is not empty", hint="choose another --out")
    store = RunStore(Path(run_dir))
    config = store.read_config()
    session = run_session(run_dir, config=config, progress=progress)
    export_candidate(
        session,
        picked,
        Path(out),
        config,
        form=format,
        baseline=store.read_baseline(),
        references=store.read_references(),
    )
    return Path(out)


def reporter(progress: bool | Progress) -> Progress:
    if isinstance(progress, Progress):
        return progress
    return RichProgress() if progress else Progress()
