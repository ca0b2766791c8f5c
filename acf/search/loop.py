"""The search: propose → pre-flight → apply → evaluate → reward → frontier → learn, one episode at a time."""

from __future__ import annotations

import inspect
import time
import warnings
from pathlib import Path
from typing import Any

from acf.errors import AcfError, Interrupted, RunStoreError, StrategyError
from acf.measurement import Measurement
from acf.plugins.manager import registry
from acf.progress import Progress
from acf.rundir.cache import EvalCache
from acf.rundir.config import DEFAULT_COST_EVALUATORS, RunConfig
from acf.rundir.results import EpisodeCounts, EpisodeResult, FinalResults
from acf.rundir.store import RunStore
from acf.search.executors import Executor, LocalExecutor, Outcome
from acf.search.ray_executor import RayExecutor
from acf.search.frontier import Frontier, build_frontier
from acf.search.objectives import Constraint, Metric, check_constraints, gain
from acf.search.pipelines import enumerate_pipelines, point_to_strategy, strategy_space, strategy_to_point
from acf.search.promotion import promote
from acf.search.proposals import Proposer, normal_point
from acf.search.reward import reward
from acf.search.strategy import Strategy
from acf.search.view import RunView
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
        # Built before any model work, so a searcher whose backend is missing or broken, or a Ray cluster that
        # cannot be reached, stops the run at once.
        self.executor = self._executor(cost)
        takes = inspect.signature(searcher_cls.__init__).parameters  # a plugin's may take neither
        extra = {k: v for k, v in (("workers", self.executor.slots), ("config", config)) if k in takes}
        self.searcher = searcher_cls(self.space, num_objectives=len(self.objectives), budget=config.episodes,
                                     seed=config.seed, **extra)

    def _executor(self, cost: list[str]) -> Executor:
        if self.config.executor == "ray":
            return RayExecutor(self.config.model_copy(update={"evaluators": cost}), self.store.dir, self.progress)
        return LocalExecutor(self.session, self.config.episode_timeout_s)

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

    def _view(self) -> RunView:
        """What the searcher may see of this run (`Searcher.attach`)."""
        s = self.session
        return RunView(spec=s.spec, space=self.space, methods={n: m.description for n, m in s.methods.items()},
                       objectives=self.objectives, constraints=list(self.config.constraints), baseline=self.baseline,
                       episodes=self.config.episodes, seed=self.config.seed, config=self.config,
                       candidates=self.candidates, frontier=self.frontier, validate=self._proposal,
                       save_record=self.store.write_searcher_record, load_record=self.store.read_searcher_record)

    def _proposal(self, raw: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """A strategy a searcher proposes (JSON), checked as a `--strategy` file is: its point, or why not."""
        try:
            return self._given_point(0, raw), None
        except (StrategyError, ValueError) as exc:  # ValueError: pydantic's, for JSON that is not a strategy
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return None, text.replace("--strategy 0: ", "").replace("--strategy 0 ", "it ")

    def _suggestions(self) -> list[dict[str, Any]]:
        """What the run's methods suggest from the model itself (`Method.suggest`: a per-layer allocation at the
        run's `effective_bits` budget, say), tried after the user's `--strategy`s; worked out once (where the
        candidates run) and kept in the run directory, so a resumed run proposes the same."""
        stored = self.store.read_suggestions()
        if stored is None:
            budgets = {c.metric: c.threshold(None) for c in self.constraints if c.op in ("<=", "<") and not c.relative}
            stored = self.executor.suggest(budgets)
            self.store.write_suggestions(stored)
        points = []
        for raw in stored:
            try:
                points.append(normal_point(strategy_to_point(self.session.validate(Strategy.model_validate(raw)))))
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
        except KeyboardInterrupt as exc:  # the run directory is what the user needs to resume
            raise Interrupted(self.store.dir) from exc
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
            self.baseline = self.executor.baseline()
            self.store.write_baseline(self.baseline)
            self.searcher.attach(self._view())
            given = self.given + self._suggestions()
            proposer = Proposer(self.searcher, lambda point: s.refuse(point_to_strategy(point)), given=given)
            self._run(proposer)
        finally:
            self.executor.close()
            self.progress.stop()
        frontier = self.frontier()
        promotion = promote(self, frontier) if cfg.promote > 0 else None
        final = self._final(frontier, time.time() - started, promotion)
        self.store.write_frontier(frontier)
        self.store.write_final(final)
        self._tell_trackers("finish", self.store.dir, final.model_dump(mode="json"))
        return frontier

    def _run(self, proposer: Proposer) -> None:
        """Keep the executor's slots full until the run has its episodes; tell the searcher each result as it
        arrives (`--tell-order completion`) or in episode order (`episode`: the same asks and tells whatever
        the timing)."""
        queue = self._replay(proposer)  # asked before, never finished: run again first, as the same episodes
        told = len(self.candidates)
        asked = max([n for n, _ in queue] + [c.episode for c in self.candidates] + [0])
        in_flight: dict[int, dict[str, Any]] = {}
        done: dict[int, Any] = {}
        current = self.frontier()  # rebuilt as each result is recorded: what the next submissions screen against
        while queue or in_flight or asked < self.config.episodes:
            while len(in_flight) < self.executor.slots and (queue or asked < self.config.episodes):
                if queue:
                    number, point = queue.pop(0)
                else:
                    asked += 1
                    number, point = asked, proposer.ask()
                    self.store.write_strategy(number, point, point_to_strategy(point), asked_after=told,
                                              rationale=self.searcher.rationale(point))
                self.progress.episode(number, point_to_strategy(point).describe())
                self.executor.submit(number, point, current)
                in_flight[number] = point
            done.update(self.executor.wait())
            while done:
                number = min(in_flight) if self.config.tell_order == "episode" else min(done)
                if number not in done:
                    break
                candidate, current = self._record(number, in_flight.pop(number), done.pop(number), told)
                proposer.tell(candidate.point, candidate.losses, sum(candidate.violations.values()))
                told += 1
                self._tell_trackers("episode", candidate)
                self.progress.advance()

    def _tell_trackers(self, event: str, *args: Any) -> None:
        """A tracker that fails warns; the run and its files are unaffected."""
        for tracker in self.trackers:
            try:
                getattr(tracker, event)(*args)
            except Exception as exc:
                warnings.warn(f"tracker {tracker.name} failed at {event}: {type(exc).__name__}: {exc}", stacklevel=2)

    def _replay(self, proposer: Proposer) -> list[tuple[int, dict[str, Any]]]:
        """Rebuild the searcher's state from the run directory, no model work: the same asks and tells in the same
        interleaving as they happened. Returns the episodes asked but never finished (a killed run's in flight)."""
        asked, told = self.store.history()
        kept = {c.episode for c in told}
        for stale in {c.episode for c in self.store.finished_episodes()} - kept:
            self.store.discard_result(stale)  # told after a result that was lost: run again, not mistaken as done
        results = iter(told)
        done = 0
        for number, point, after in asked:
            while done < after:
                self._replay_tell(proposer, next(results))
                done += 1
            if proposer.ask() != point:
                raise RunStoreError(f"cannot resume {self.store.dir}: the searcher no longer proposes episode "
                                    f"{number}'s strategy (was acf or a plugin upgraded?)")
        for candidate in results:
            self._replay_tell(proposer, candidate)
        finished = {c.episode for c in self.candidates}
        return [(number, point) for number, point, _ in asked if number not in finished]

    def _replay_tell(self, proposer: Proposer, candidate: EpisodeResult) -> None:
        proposer.tell(normal_point(candidate.point), candidate.losses, sum(candidate.violations.values()))
        self.candidates.append(candidate)
        self.candidates.sort(key=lambda c: c.episode)
        self.progress.advance()

    def _record(self, number: int, point: dict[str, Any], outcome: Outcome, told: int) -> tuple[EpisodeResult, Frontier]:
        """An outcome as the episode's result: scored against the baseline, written, put on the frontier (returned)."""
        fields = outcome.model_dump(exclude={"error"})
        if outcome.status == "ok":
            missing = [m.name for m in self.objectives if m.name not in outcome.measurements]
            if missing:
                fields.update(status="failed", reason=f"AcfError: evaluators returned no {', '.join(missing)}")
        candidate = EpisodeResult(id=f"ep{number:03d}", episode=number, point=normal_point(point), told=told,
                                  asked_after=self.store.asked_after(number), rationale=self.store.rationale(number),
                                  **fields)
        if candidate.status == "ok":
            self._score(candidate)
        if outcome.error:
            self.store.write_error(number, outcome.error)
        self.store.write_result(candidate)
        self.candidates.append(candidate)
        self.candidates.sort(key=lambda c: c.episode)
        frontier = self.frontier()
        self.store.write_frontier(frontier)
        self.progress.log(_summary_line(candidate, self.objectives))
        return candidate, frontier

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
            promotion=promotion, seconds=round(seconds, 2), searcher=self.searcher.summary(),
        )


def _summary_line(c: EpisodeResult, objectives: list[Metric]) -> str:
    if c.status != "ok":
        return f"{c.id} {c.status}: {c.strategy.describe()} — {c.reason}"
    values = ", ".join(f"{m.name}={c.value(m.name):.4g}" for m in objectives)
    flag = "" if c.feasible else " (violates constraints)"
    return f"{c.id} {c.strategy.describe()}: {values}, reward {c.reward:+.4f}{flag}{' [cached]' if c.cached else ''}"
