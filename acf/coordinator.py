"""The episode loop: propose → pre-flight → apply → evaluate → reward → frontier → learn."""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import signal
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from acf.candidate import Candidate
from acf.config import DEFAULT_COST_EVALUATORS, RunConfig
from acf.context import Context
from acf.errors import AcfError, InfeasibleError, RunStoreError, StrategyError, UnknownPluginError
from acf.frontier import Frontier, build_frontier
from acf.loading import ensure_local, fingerprint, load_model, load_tokenizer, pick_device, read_config, resolve_model
from acf.measure import Measurement
from acf.objectives import Constraint, Metric, check_constraints, gain
from acf.plugins import registry
from acf.monitor import GpuMemoryMonitor
from acf.progress import Progress
from acf.promotion import promotion_order, tied_ranking
from acf.proposals import Proposer, normal
from acf.resources import free_disk_bytes, free_memory_bytes, hardware_id, model_bytes
from acf.reward import reward
from acf.search_space import enumerate_pipelines, point_to_strategy, strategy_space, strategy_to_point
from acf.spec import infer_spec
from acf.store import EvalCache, RunLock, RunStore
from acf.strategy import Strategy, validate_strategy

# Bump when an evaluator's meaning changes so stale cache entries are not reused.
CACHE_VERSION = 1
# Headroom the pre-flight check keeps free, as a fraction of what the OS reports available.
MEMORY_HEADROOM = 0.9
# Default per-episode budget of estimated compression seconds, and how much faster a GPU runs the estimates.
DEFAULT_EPISODE_BUDGET_S = {"cpu": 30.0, "cuda": 900.0}
GPU_SPEEDUP = 20.0


class Skipped(Exception):
    """The pre-flight check refused a strategy; the episode is recorded as skipped."""


class EpisodeTimeout(Exception):
    """An episode ran past --timeout; it is recorded as failed."""


@contextlib.contextmanager
def deadline(seconds: float | None):
    """Raise EpisodeTimeout in the main thread after `seconds` (SIGALRM; a no-op elsewhere or when None).

    The signal interrupts Python code and sleeps; a long native call (one big matmul) finishes first.
    """
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise EpisodeTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Run:
    """One search over one model and task; `prepare()` validates everything before any model work."""

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool = False,
                 progress: Progress | None = None, cache: EvalCache | None = None):
        self.config = config
        self.store = RunStore(run_dir)
        self.resume = resume
        self.progress = progress or Progress()
        self.cache = cache or EvalCache()
        self.candidates: list[Candidate] = []
        self.baseline: dict[str, Measurement] = {}
        self._base_model = None
        self._lock = RunLock(self.store.dir)

    # ---------------------------------------------------------------- set-up (bad input fails here)
    def prepare(self) -> None:
        cfg = self.config
        if cfg.episodes < 1:
            raise AcfError(f"--episodes must be at least 1, got {cfg.episodes}")
        if cfg.max_steps < 1:
            raise AcfError(f"--max-steps must be at least 1, got {cfg.max_steps}")
        if cfg.episode_timeout_s is not None and cfg.episode_timeout_s <= 0:
            raise AcfError(f"--timeout must be positive, got {cfg.episode_timeout_s:g}")
        self._check_run_dir()
        reg = registry()
        self.task = self._task_evaluator(reg)
        self.searcher_cls = reg.get("searcher", cfg.searcher)
        preset = reg.get("reward_preset", cfg.reward)()
        self.resolved = resolve_model(cfg.model)
        raw = read_config(self.resolved)
        self.spec = infer_spec(raw, source=cfg.model, path=str(self.resolved.path) if self.resolved.path else None,
                               hub_id=self.resolved.hub_id)
        if self.spec.trust_remote_code_required and not cfg.trust_remote_code:
            raise AcfError(f"{cfg.model} needs trust_remote_code to load (its config maps to custom code)",
                           hint="pass --trust-remote-code if you trust that code")
        self.device = pick_device(cfg.device)
        self.budget_s = cfg.episode_budget_s or DEFAULT_EPISODE_BUDGET_S["cuda" if self.device.startswith("cuda") else "cpu"]
        self.methods = self._methods(reg)
        self.spec.applicable_methods = sorted(self.methods)
        self.evaluators = self._evaluators(reg)
        self.fidelity = {ev.name: ev.default_fidelity for ev in self.evaluators}
        metrics: dict[str, Metric] = {}
        for ev in self.evaluators:
            metrics.update({m.name: m for m in ev.metrics_for(self.fidelity[ev.name])})
        self.metrics = metrics
        names = cfg.objectives or [self.task.primary_metric(self.fidelity[self.task.name]), "size_mb", *preset.extra_objectives]
        unknown = [n for n in names if n not in metrics]
        if unknown:
            raise AcfError(f"unknown objective(s) {', '.join(unknown)}; metrics in this run: {', '.join(sorted(metrics))}")
        self.objectives = [metrics[n] for n in dict.fromkeys(names)]
        self.constraints = [Constraint.parse(c) for c in cfg.constraints]
        check_constraints(self.constraints, metrics)
        unknown_w = [k for k in cfg.weights if k not in metrics]
        if unknown_w:
            raise AcfError(f"--weight names unknown metric(s) {', '.join(unknown_w)}")
        self.weights = {**preset.weights(self.objectives), **cfg.weights}
        self.trackers = [reg.get("tracker", name)(uri=cfg.track_uri) for name in dict.fromkeys(cfg.track)]
        pipelines = enumerate_pipelines(self.methods, cfg.max_steps)
        self.space = strategy_space(self.methods, self.spec, pipelines)
        self.given = [self._given_point(i, raw) for i, raw in enumerate(cfg.strategies, 1)]
        self._check_memory_for_base()
        self.ctx = Context(
            spec=self.spec, device=self.device, seed=cfg.seed, progress=self.progress,
            load_tokenizer=lambda: load_tokenizer(self.local_path, trust_remote_code=cfg.trust_remote_code),
            load_teacher=lambda: self.base_model,
            load_calibration=lambda n: self.task.calibration_texts(self.ctx, n),
        )
        self.local_path = ensure_local(self.resolved)
        self.spec.path = str(self.local_path)
        for ev in self.evaluators:
            ev.prepare(self.ctx)

    def _given_point(self, number: int, raw: dict[str, Any]) -> dict[str, Any]:
        """A user's --strategy, validated against this run's methods and model, as a searcher point."""
        try:
            strategy = validate_strategy(Strategy.model_validate(raw), self.methods, self.spec)
        except StrategyError as exc:
            raise StrategyError(f"--strategy {number}: {exc}") from None
        if len(strategy.steps) > self.config.max_steps:
            raise StrategyError(f"--strategy {number} has {len(strategy.steps)} steps, more than --max-steps {self.config.max_steps}")
        return normal(strategy_to_point(strategy))

    def _check_run_dir(self) -> None:
        if self.resume:
            if not self.store.exists():
                raise RunStoreError(f"nothing to resume: {self.store.dir} holds no run (no run_config.json)")
            stored = RunConfig.model_validate(self.store.read("run_config.json"))
            differ = stored.same_search(self.config)
            if differ:
                raise RunStoreError(
                    f"{self.store.dir} holds a run with different settings ({', '.join(differ)})",
                    hint="resume with the same arguments (or just 'acf resume DIR'), or use another --run-dir",
                )
        elif self.store.exists() or self.store.episode_numbers():
            raise RunStoreError(f"{self.store.dir} already holds a run",
                                hint="pass --resume to continue it, or choose another --run-dir")

    def _task_evaluator(self, reg):
        tasks = [n for n, cls in reg.all("evaluator").items() if cls.is_task]
        if self.config.dataset not in tasks:
            raise UnknownPluginError("dataset", self.config.dataset, tasks)
        cls = reg.get("evaluator", self.config.dataset)
        return cls(**self.config.evaluator_options.get(cls.name, {}))

    def _methods(self, reg) -> dict[str, Any]:
        available = reg.all("method")
        wanted = self.config.methods or sorted(available)
        methods = {}
        for name in wanted:
            method = reg.get("method", name)()
            why_not = method.applies_to(self.spec)
            if not why_not:
                fastest = min(self._seconds(method, point) for point in method.space(self.spec).grid(2) or [{}])
                if fastest > self.budget_s:
                    why_not = (f"its fastest setting needs about {fastest:.0f} s per episode here, over the "
                               f"{self.budget_s:.0f} s episode budget (raise --episode-budget)")
            if why_not and self.config.methods:
                raise AcfError(f"method {name} does not apply to {self.config.model}: {why_not}")
            if not why_not:
                methods[name] = method
        if not methods:
            raise AcfError(f"no compression method applies to {self.config.model}")
        return methods

    def _seconds(self, method, params: dict[str, Any]) -> float:
        seconds = method.estimate(self.spec, params).seconds
        return seconds / GPU_SPEEDUP if self.device.startswith("cuda") else seconds

    def over_budget(self, strategy: Strategy) -> str | None:
        """Why a strategy's estimated compression time exceeds the episode budget, or None."""
        total = sum(self._seconds(self.methods[s.method], s.params) for s in strategy.steps)
        if total > self.budget_s:
            return f"estimated {total:.0f} s of compression, over the {self.budget_s:.0f} s episode budget"
        return None

    def _evaluators(self, reg) -> list[Any]:
        names = [self.task.name, *(self.config.evaluators or DEFAULT_COST_EVALUATORS)]
        out = [self.task]
        for name in dict.fromkeys(names[1:]):
            if name == self.task.name:
                continue
            cls = reg.get("evaluator", name)
            out.append(cls(**self.config.evaluator_options.get(name, {})))
        unknown = set(self.config.evaluator_options) - {ev.name for ev in out}
        if unknown:
            raise AcfError(f"options given for evaluator(s) not in this run: {', '.join(sorted(unknown))}")
        return out

    def _check_memory_for_base(self) -> None:
        need = self.spec.memory_bytes["float32" if self.device == "cpu" and self.config.dtype == "auto" else (
            self.spec.dtype if self.config.dtype == "auto" else self.config.dtype)]
        free = free_memory_bytes(self.device)
        if need > free * MEMORY_HEADROOM:
            raise InfeasibleError(
                f"{self.config.model} needs about {need / 2**30:.1f} GiB to load on {self.device}, "
                f"but only {free / 2**30:.1f} GiB is free",
                hint="use a smaller model or a machine with more memory",
            )

    # ---------------------------------------------------------------- the loop
    @property
    def base_model(self) -> Any:
        if self._base_model is None:
            self.progress.phase("loading model")
            self._base_model = load_model(self.local_path, device=self.device, dtype=self.config.dtype,
                                          trust_remote_code=self.config.trust_remote_code)
        return self._base_model

    def execute(self) -> Frontier:
        self.store.create()
        self._lock.acquire()
        self.store.remove_partial_writes()  # only the lock holder may: another writer's temp files are live
        try:
            return self._execute()
        finally:
            self._lock.release()

    def _execute(self) -> Frontier:
        cfg = self.config
        started = time.time()
        if not self.resume:
            self.store.write("run_config.json", cfg.model_dump(mode="json"))
        self.store.write("model_spec.json", self.spec.model_dump(mode="json"))
        self._tell_trackers("start", self.store.dir, cfg, self.spec.model_dump(mode="json"))
        self.progress.start(total=cfg.episodes, title=f"{cfg.model} on {cfg.dataset}")
        try:
            self.progress.episode(0, "baseline")
            self.baseline, _ = self.measure(None)
            self.store.write("baseline.json", {k: v.model_dump() for k, v in self.baseline.items()})
            searcher = self.searcher_cls(self.space, num_objectives=len(self.objectives), budget=cfg.episodes, seed=cfg.seed)
            proposer = Proposer(searcher, self._refuse, given=self.given)
            self._replay(proposer)
            for episode in range(len(self.candidates) + 1, cfg.episodes + 1):
                point = proposer.ask()
                candidate = self._episode(episode, point)
                proposer.tell(point, candidate.losses, sum(candidate.violations.values()))
                self._tell_trackers("episode", candidate)
                self.progress.advance()
        finally:
            self.progress.stop()
        frontier = self._frontier()
        promotion = self._promote(frontier) if cfg.promote > 0 else None
        final = self._write_final(frontier, time.time() - started, promotion)
        self._tell_trackers("finish", self.store.dir, final)
        return frontier

    def _tell_trackers(self, event: str, *args: Any) -> None:
        """A tracker that fails warns; the run and its files are unaffected."""
        for tracker in self.trackers:
            try:
                getattr(tracker, event)(*args)
            except Exception as exc:
                warnings.warn(f"tracker {tracker.name} failed at {event}: {type(exc).__name__}: {exc}", stacklevel=2)

    def _promote(self, frontier: Frontier) -> dict[str, Any] | None:
        """Re-score the most promising candidates (and the baseline) at the task's full fidelity."""
        full = self.task.fidelities[-1]
        if full == self.fidelity[self.task.name]:
            return None
        metric = self.task.primary_metric(self.fidelity[self.task.name])
        picks = promotion_order(self.candidates, frontier, metric, self.config.promote)
        self.progress.phase(f"promoting {len(picks)} candidates to {self.task.name} at fidelity {full}")
        baseline, _ = self.measure(None, evaluators=[self.task], fidelity={self.task.name: full})
        full_metric = next(m for m in self.task.metrics_for(full) if m.name == self.task.primary_metric(full))
        for c in picks:
            try:
                with deadline(self.config.episode_timeout_s):
                    c.promoted, _ = self.measure(c.strategy, evaluators=[self.task], fidelity={self.task.name: full})
            except Exception as exc:  # a failed promotion loses nothing already measured
                self.progress.log(f"{c.id}: promotion failed: {_describe_failure(exc)}")
                continue
            self.store.write_episode(c.episode, "result.json", c.model_dump(mode="json"))
        scores = {"baseline": baseline[full_metric.name],
                  **{c.id: c.promoted[full_metric.name] for c in picks if full_metric.name in c.promoted}}
        return {"fidelity": full, "metric": full_metric.name, "screened_on": metric,
                "candidates": [c.id for c in picks],
                "scores": {k: v.model_dump() for k, v in scores.items()},
                "ranking": tied_ranking(scores, full_metric)}

    def _replay(self, proposer: Proposer) -> None:
        """Rebuild the searcher's state from finished episodes: same asks, same tells, no model work."""
        for result in self.store.finished_episodes():
            candidate = Candidate.model_validate(result)
            point = proposer.ask()
            if point != normal(candidate.point):
                raise RunStoreError(
                    f"cannot resume {self.store.dir}: the searcher no longer proposes episode {candidate.episode}'s "
                    "strategy (was acf or a plugin upgraded?)"
                )
            proposer.tell(point, candidate.losses, sum(candidate.violations.values()))
            self.candidates.append(candidate)
            self.progress.advance()

    def _refuse(self, point: dict[str, Any]) -> str | None:
        """Why a proposal should not cost an episode: over the episode budget (told back as a failure).
        An invalid strategy is let through, to be recorded as a skipped episode."""
        try:
            strategy = validate_strategy(point_to_strategy(point), self.methods, self.spec)
        except StrategyError:
            return None
        return self.over_budget(strategy)

    def _episode(self, number: int, point: dict[str, Any]) -> Candidate:
        point = normal(point)
        strategy = point_to_strategy(point)
        self.progress.episode(number, strategy.describe())
        self.store.write_episode(number, "strategy.json", {"point": point, **strategy.model_dump(mode="json")})
        started = time.time()
        fields: dict[str, Any] = {"id": f"ep{number:03d}", "episode": number, "strategy": strategy, "point": point}
        try:
            strategy = validate_strategy(strategy, self.methods, self.spec)
            fields["strategy"] = strategy
            with deadline(self.config.episode_timeout_s), GpuMemoryMonitor(self.device) as gpu:
                measurements, cached = self.measure(strategy)
            fields["gpu_memory_peak_mb"] = gpu.peak_mb
            missing = [m.name for m in self.objectives if m.name not in measurements]
            if missing:
                raise AcfError(f"evaluators returned no {', '.join(missing)}")
            candidate = Candidate(status="ok", measurements=measurements, cached=cached, **fields)
            self._score(candidate)
        except Skipped as exc:
            candidate = Candidate(status="skipped", reason=str(exc), **fields)
        except StrategyError as exc:
            candidate = Candidate(status="skipped", reason=f"invalid strategy: {exc}", **fields)
        except Exception as exc:  # a failing step or evaluator fails the episode, not the run
            candidate = Candidate(status="failed", reason=_describe_failure(exc), **fields)
            (self.store.episode_dir(number) / "error.txt").write_text(traceback.format_exc())
        finally:
            gc.collect()
            _empty_device_cache(self.device)
        candidate.seconds = round(time.time() - started, 3)
        self.store.write_episode(number, "result.json", candidate.model_dump(mode="json"))
        self.candidates.append(candidate)
        self.store.write("pareto_frontier.json", self._frontier().model_dump(mode="json"))
        self.progress.log(_summary_line(candidate, self.objectives))
        return candidate

    def _score(self, c: Candidate) -> None:
        c.losses = [-gain(m, c.value(m.name), self.baseline[m.name].value) for m in self.objectives]
        c.reward = reward(c.measurements, self.baseline, self.objectives, self.weights)
        for con in self.constraints:
            v = con.violation(c.value(con.metric), self.baseline[con.metric].value)
            if v > 0:
                c.violations[con.text] = v
        c.feasible = not c.violations

    def _frontier(self) -> Frontier:
        return build_frontier(self.candidates, self.objectives, self.baseline)

    # ---------------------------------------------------------------- measuring
    @functools.cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.local_path)

    @functools.cached_property
    def hardware(self) -> str:
        return hardware_id(self.device)

    def measure(self, strategy: Strategy | None, *, evaluators: list[Any] | None = None,
                fidelity: dict[str, str] | None = None) -> tuple[dict[str, Measurement], bool]:
        """Every evaluator's measurements of the base model (None) or a strategy, from the cache where it has them;
        the second value says whether all came from the cache. `evaluators`/`fidelity` override the run's."""
        skey = strategy.key() if strategy is not None else "baseline"
        fidelity = {**self.fidelity, **(fidelity or {})}
        results: dict[str, Measurement] = {}
        missing = []
        for ev in evaluators or self.evaluators:
            key = self.cache.key(model=self.fingerprint, strategy=skey, evaluator=ev.name, fidelity=fidelity[ev.name],
                                 config=ev.config(), hardware=self.hardware, version=CACHE_VERSION)
            hit = self.cache.get(key)
            if hit is not None:
                results.update({k: Measurement.model_validate(v) for k, v in hit.items()})
            else:
                missing.append((ev, key))
        if not missing:
            return results, True
        model = self.base_model if strategy is None else self.apply(strategy)
        for ev, key in missing:
            self.progress.phase(f"evaluating {ev.name}")
            measured = ev.evaluate(model, self.ctx, fidelity[ev.name])
            self.cache.put(key, {k: v.model_dump() for k, v in measured.items()})
            results.update(measured)
        return results, False

    def apply(self, strategy: Strategy) -> Any:
        """A compressed copy of the base model: pre-flight, then every step in order."""
        self._preflight(strategy)
        model = copy.deepcopy(self.base_model)
        for step in strategy.steps:
            self.progress.phase(f"applying {step.method}")
            model = self.methods[step.method].apply(model, step.params, self.ctx)
        return model

    def _preflight(self, strategy: Strategy) -> None:
        copy_bytes = model_bytes(self.base_model)
        step_peak = max(self.methods[s.method].estimate(self.spec, s.params).peak_memory_bytes for s in strategy.steps)
        disk = sum(self.methods[s.method].estimate(self.spec, s.params).disk_bytes for s in strategy.steps)
        need, free = copy_bytes + step_peak, free_memory_bytes(self.device)
        if need > free * MEMORY_HEADROOM:
            raise Skipped(f"pre-flight: needs about {need / 2**30:.2f} GiB on {self.device}, {free / 2**30:.2f} GiB free")
        over = self.over_budget(strategy)
        if over:
            raise Skipped(f"pre-flight: {over}")
        free_disk = free_disk_bytes(self.store.dir)
        if disk > free_disk:
            raise Skipped(f"pre-flight: needs about {disk / 2**30:.2f} GiB of disk, {free_disk / 2**30:.2f} GiB free")

    # ---------------------------------------------------------------- results
    def _write_final(self, frontier: Frontier, seconds: float, promotion: dict[str, Any] | None = None) -> dict[str, Any]:
        self.store.write("pareto_frontier.json", frontier.model_dump(mode="json"))
        counts = {s: sum(c.status == s for c in self.candidates) for s in ("ok", "failed", "skipped")}
        pick = next((c for c in self.candidates if c.id == frontier.recommended), None)
        final = {
            "model": self.config.model,
            "dataset": self.config.dataset,
            "episodes": counts,
            "objectives": [m.model_dump() for m in self.objectives],
            "constraints": self.config.constraints,
            "baseline": {k: v.model_dump() for k, v in self.baseline.items()},
            "hypervolume": frontier.hypervolume,
            "frontier": [c.id for c in frontier.candidates],
            "recommended": pick.model_dump(mode="json") if pick else None,
            "recommended_reason": frontier.recommended_reason,
            "blocking_constraint": frontier.blocking_constraint,
            "promotion": promotion,
            "seconds": round(seconds, 2),
        }
        self.store.write("final_results.json", final)
        return final


# What torch's CPU allocator says when an allocation fails (it raises RuntimeError, not MemoryError).
OOM_TEXTS = ("can't allocate memory", "not enough memory")


def _describe_failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemory" in name or any(t in str(exc) for t in OOM_TEXTS):
        return f"out of memory: {exc}".strip()
    return f"{name}: {exc}"


def _empty_device_cache(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def _summary_line(c: Candidate, objectives: list[Metric]) -> str:
    if c.status != "ok":
        return f"{c.id} {c.status}: {c.strategy.describe()} — {c.reason}"
    values = ", ".join(f"{m.name}={c.value(m.name):.4g}" for m in objectives)
    flag = "" if c.feasible else " (violates constraints)"
    return f"{c.id} {c.strategy.describe()}: {values}, reward {c.reward:+.4f}{flag}{' [cached]' if c.cached else ''}"

