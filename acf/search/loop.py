"""The search: propose → pre-flight → apply → evaluate → reward → frontier → learn, one episode at a time."""

from __future__ import annotations

import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from acf.errors import AcfError, RunStoreError, StrategyError
from acf.gpu_monitor import GpuMemoryMonitor
from acf.measurement import Measurement
from acf.plugins.manager import registry
from acf.progress import Progress
from acf.rundir.cache import EvalCache
from acf.rundir.config import DEFAULT_COST_EVALUATORS, RunConfig
from acf.rundir.results import EpisodeCounts, EpisodeResult, FinalResults
from acf.rundir.store import RunStore
from acf.search.deadline import deadline, describe_failure
from acf.search.frontier import Frontier, build_frontier, dominated_at_best
from acf.search.objectives import Constraint, Metric, check_constraints, gain
from acf.search.pipelines import enumerate_pipelines, point_to_strategy, strategy_space, strategy_to_point
from acf.search.promotion import promote
from acf.search.proposals import Proposer, normal_point
from acf.search.reward import reward
from acf.search.strategy import Step, Strategy
from acf.preflight import PreflightRefused
from acf.session import Session


class Search:
    """One search over one model and task; building it validates everything before any model work."""

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool = False,
                 progress: Progress | None = None, cache: EvalCache | None = None):
        self.config = config
        self.store = RunStore(run_dir)
        self.resume = resume
        self.progress = progress or Progress()
        self.candidates: list[EpisodeResult] = []
        self.baseline: dict[str, Measurement] = {}
        self._check_run_dir()
        reg = registry()
        searcher_cls = reg.get("searcher", config.searcher)
        preset = reg.get("reward_preset", config.reward)()
        cost = config.evaluators or list(DEFAULT_COST_EVALUATORS)
        self.session = Session.from_config(config.model_copy(update={"evaluators": cost}), work_dir=self.store.dir,
                                           progress=self.progress, cache=cache)
        s = self.session
        metrics: dict[str, Metric] = {}
        for ev in s.evaluators:
            metrics.update({m.name: m for m in ev.metrics_for(s.fidelity[ev.name])})
        names = config.objectives or [s.task.primary_metric(s.fidelity[s.task.name]), "size_mb", *preset.extra_objectives]
        unknown = [n for n in names if n not in metrics]
        if unknown:
            raise AcfError(f"unknown objective(s) {', '.join(unknown)}; metrics in this run: {', '.join(sorted(metrics))}")
        self.objectives = [metrics[n] for n in dict.fromkeys(names)]
        self.constraints = [Constraint.parse(c) for c in config.constraints]
        lowest = {c.metric: {n: m.lowest(s.spec, c.metric) for n, m in s.methods.items()} for c in self.constraints}
        check_constraints(self.constraints, metrics, lowest)
        unknown_w = [k for k in config.weights if k not in metrics]
        if unknown_w:
            raise AcfError(f"--weight names unknown metric(s) {', '.join(unknown_w)}")
        self.weights = {**preset.weights(self.objectives), **config.weights}
        self.trackers = [reg.get("tracker", name)(uri=config.track_uri) for name in dict.fromkeys(config.track)]
        self.space = strategy_space(s.methods, s.spec, enumerate_pipelines(s.methods, config.max_steps))
        self.given = [self._given_point(i, raw) for i, raw in enumerate(config.strategies, 1)]
        # Built before any model work, so a searcher whose backend is missing or broken stops the run at once.
        self.searcher = searcher_cls(self.space, num_objectives=len(self.objectives), budget=config.episodes,
                                     seed=config.seed)

    def _check_run_dir(self) -> None:
        if self.resume:
            if not self.store.exists():
                raise RunStoreError(f"nothing to resume: {self.store.dir} holds no run (no run_config.json)")
            differ = self.store.read_config().same_search(self.config)
            if differ:
                raise RunStoreError(
                    f"{self.store.dir} holds a run with different settings ({', '.join(differ)})",
                    hint="resume with the same arguments (or just 'acf resume DIR'), or use another --run-dir",
                )
        elif self.store.exists() or self.store.episode_numbers():
            raise RunStoreError(f"{self.store.dir} already holds a run",
                                hint="pass --resume to continue it, or choose another --run-dir")

    def _given_point(self, number: int, raw: dict[str, Any]) -> dict[str, Any]:
        """A user's --strategy, validated against this run's methods and model, as a searcher point."""
        try:
            strategy = self.session.validate(Strategy.model_validate(raw))
        except StrategyError as exc:
            raise StrategyError(f"--strategy {number}: {exc}") from None
        if len(strategy.steps) > self.config.max_steps:
            raise StrategyError(f"--strategy {number} has {len(strategy.steps)} steps, more than --max-steps {self.config.max_steps}")
        return normal_point(strategy_to_point(strategy))

    def _suggestions(self) -> list[dict[str, Any]]:
        """What the run's methods suggest from the model itself (`Method.suggest`: a per-layer allocation at the
        run's `effective_bits` budget, say), tried after the user's `--strategy`s; worked out once and kept in the
        run directory, so a resumed run proposes the same."""
        s = self.session
        stored = self.store.read_suggestions()
        if stored is None:
            budgets = {c.metric: c.threshold(None) for c in self.constraints if c.op in ("<=", "<") and not c.relative}
            stored = []
            for name, method in s.methods.items():
                try:
                    suggested = method.suggest(s.base_model, s.ctx, budgets)
                except Exception as exc:  # a method that cannot suggest here (too little text, say): the run goes on
                    self.progress.log(f"{name} suggested nothing: {describe_failure(exc)}")
                    continue
                stored += [Strategy(steps=[Step(method=name, params=p)]).model_dump(mode="json") for p in suggested]
            self.store.write_suggestions(stored)
        points = []
        for raw in stored:
            try:
                points.append(normal_point(strategy_to_point(s.validate(Strategy.model_validate(raw)))))
            except StrategyError as exc:  # a suggestion the space no longer takes: said, not fatal
                self.progress.log(f"suggestion skipped: {exc}")
        return points

    # ------------------------------------------------------------------ the loop
    def execute(self) -> Frontier:
        self.store.create()
        lock = self.store.lock()
        lock.acquire()
        self.store.remove_partial_writes()  # only the lock holder may: another writer's temp files are live
        try:
            return self._execute()
        finally:
            lock.release()

    def _execute(self) -> Frontier:
        cfg, s = self.config, self.session
        started = time.time()
        if not self.resume:
            self.store.write_config(cfg)
        self.store.write_spec(s.spec)
        self._tell_trackers("start", self.store.dir, cfg, s.spec.model_dump(mode="json"))
        self.progress.start(total=cfg.episodes, title=f"{cfg.model} on {cfg.dataset}")
        try:
            self.progress.episode(0, "baseline")
            self.baseline, _, _ = s.measure(None)
            self.store.write_baseline(self.baseline)
            given = self.given + self._suggestions()
            proposer = Proposer(self.searcher, lambda point: s.refuse(point_to_strategy(point)), given=given)
            self._replay(proposer)
            for episode in range(len(self.candidates) + 1, cfg.episodes + 1):
                point = proposer.ask()
                candidate = self._episode(episode, point)
                proposer.tell(point, candidate.losses, sum(candidate.violations.values()))
                self._tell_trackers("episode", candidate)
                self.progress.advance()
        finally:
            self.progress.stop()
        frontier = self.frontier()
        promotion = promote(self, frontier) if cfg.promote > 0 else None
        final = self._final(frontier, time.time() - started, promotion)
        self.store.write_frontier(frontier)
        self.store.write_final(final)
        self._tell_trackers("finish", self.store.dir, final.model_dump(mode="json"))
        return frontier

    def _tell_trackers(self, event: str, *args: Any) -> None:
        """A tracker that fails warns; the run and its files are unaffected."""
        for tracker in self.trackers:
            try:
                getattr(tracker, event)(*args)
            except Exception as exc:
                warnings.warn(f"tracker {tracker.name} failed at {event}: {type(exc).__name__}: {exc}", stacklevel=2)

    def _replay(self, proposer: Proposer) -> None:
        """Rebuild the searcher's state from finished episodes: same asks, same tells, no model work."""
        for candidate in self.store.finished_episodes():
            point = proposer.ask()
            if point != normal_point(candidate.point):
                raise RunStoreError(
                    f"cannot resume {self.store.dir}: the searcher no longer proposes episode {candidate.episode}'s "
                    "strategy (was acf or a plugin upgraded?)"
                )
            proposer.tell(point, candidate.losses, sum(candidate.violations.values()))
            self.candidates.append(candidate)
            self.progress.advance()

    def _episode(self, number: int, point: dict[str, Any]) -> EpisodeResult:
        s = self.session
        point = normal_point(point)
        strategy = point_to_strategy(point)
        self.progress.episode(number, strategy.describe())
        self.store.write_strategy(number, point, strategy)
        started = time.time()
        fields: dict[str, Any] = {"id": f"ep{number:03d}", "episode": number, "strategy": strategy, "point": point}
        try:
            strategy = s.validate(strategy)
            fields["strategy"] = strategy
            with deadline(self.config.episode_timeout_s), GpuMemoryMonitor(s.device) as gpu:
                measurements, cached, steps = s.measure(strategy, screen=self._dominated)
            fields.update(gpu_memory_peak_mb=gpu.peak_mb, steps=steps)
            missing = [m.name for m in self.objectives if m.name not in measurements]
            if missing:
                raise AcfError(f"evaluators returned no {', '.join(missing)}")
            candidate = EpisodeResult(status="ok", measurements=measurements, cached=cached, **fields)
            self._score(candidate)
        except PreflightRefused as exc:
            candidate = EpisodeResult(status="skipped", reason=str(exc), **fields)
        except StrategyError as exc:
            candidate = EpisodeResult(status="skipped", reason=f"invalid strategy: {exc}", **fields)
        except Exception as exc:  # a failing step or evaluator fails the episode, not the run
            candidate = EpisodeResult(status="failed", reason=describe_failure(exc), **fields)
            self.store.write_error(number, traceback.format_exc())
        finally:
            s.release()
        candidate.seconds = round(time.time() - started, 3)
        self.store.write_result(candidate)
        self.candidates.append(candidate)
        self.store.write_frontier(self.frontier())
        self.progress.log(_summary_line(candidate, self.objectives))
        return candidate

    def _dominated(self, measured: dict[str, Measurement], predicted: dict[str, float]) -> bool:
        """Whether the candidate's costs need only a quick timing: a frontier member beats it even at its best."""
        return dominated_at_best(self.frontier(), measured, predicted)

    def _score(self, c: EpisodeResult) -> None:
        c.losses = [-gain(m, c.value(m.name), self.baseline[m.name].value) for m in self.objectives]
        c.reward = reward(c.measurements, self.baseline, self.objectives, self.weights)
        for con in self.constraints:
            v = con.violation(c.value(con.metric), self.baseline[con.metric].value)
            if v > 0:
                c.violations[con.text] = v
        c.feasible = not c.violations

    def frontier(self) -> Frontier:
        return build_frontier(self.candidates, self.objectives, self.baseline)

    def _final(self, frontier: Frontier, seconds: float, promotion: Any) -> FinalResults:
        pick = next((c for c in self.candidates if c.id == frontier.recommended), None)
        return FinalResults(
            model=self.config.model, dataset=self.config.dataset,
            episodes=EpisodeCounts(**{s: sum(c.status == s for c in self.candidates) for s in ("ok", "failed", "skipped")}),
            objectives=self.objectives, constraints=self.config.constraints, baseline=self.baseline,
            hypervolume=frontier.hypervolume, frontier=[c.id for c in frontier.candidates], recommended=pick,
            recommended_reason=frontier.recommended_reason, blocking_constraint=frontier.blocking_constraint,
            promotion=promotion, seconds=round(seconds, 2),
        )


def _summary_line(c: EpisodeResult, objectives: list[Metric]) -> str:
    if c.status != "ok":
        return f"{c.id} {c.status}: {c.strategy.describe()} — {c.reason}"
    values = ", ".join(f"{m.name}={c.value(m.name):.4g}" for m in objectives)
    flag = "" if c.feasible else " (violates constraints)"
    return f"{c.id} {c.strategy.describe()}: {values}, reward {c.reward:+.4f}{flag}{' [cached]' if c.cached else ''}"
