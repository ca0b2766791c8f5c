"""The search: propose → pre-flight → apply → evaluate → reward → frontier → learn, one episode at a time."""

from __future__ import annotations

import inspect
import time
import warnings
from pathlib import Path
from typing import Any

from acf.errors import Interrupted, RunStoreError, StrategyError
from acf.plugins.manager import registry
from acf.plugins.registry import marked_as
from acf.plugins.view import RunView
from acf.rundir.cache import EvalCache
from acf.rundir.store import RunStore
from acf.search.executors import Executor, LocalExecutor, Outcome
from acf.search.goals import run_goals
from acf.search.outcomes import final_results, score, summary_line
from acf.search.pipelines import enumerate_pipelines, point_to_strategy, strategy_space, strategy_to_point
from acf.search.promotion import promote
from acf.search.proposals import Proposer, checked_proposal, given_point, normal_point
from acf.search.ray_executor import RayExecutor
from acf.search.references import References
from acf.search.replay import replay
from acf.session.session import Session
from acf.system.progress import Progress
from acf.types.config import RunConfig
from acf.types.frontier import Frontier, build_frontier
from acf.types.measurement import Measurement
from acf.types.results import EpisodeResult, FinalResults
from acf.types.strategy import Strategy


class Search:
    """One search over one model and task; building it validates everything before any model work."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: Path,
        *,
        resume: bool = False,
        progress: Progress | None = None,
        cache: EvalCache | None = None,
    ):
        reg = registry()
        # the searcher and preset a plugin marks as the default, when none is named (run_config.json keeps the name)
        self.config = config = config.model_copy(
            update={
                "searcher": config.searcher or reg.default("searcher"),
                "reward": config.reward or reg.default("reward_preset"),
            }
        )
        self.store = RunStore(run_dir)
        self.resume = resume
        self.progress = progress or Progress()
        self.candidates: list[EpisodeResult] = []
        self.baseline: dict[str, Measurement] = {}
        self._check_run_dir()
        searcher_cls = reg.get("searcher", config.searcher)
        preset = reg.get("reward_preset", config.reward)()
        cost = config.evaluators or [n for n, cls in reg.all("evaluator").items() if marked_as(cls, "in_default_runs")]
        self.session = Session.from_config(
            config.model_copy(update={"evaluators": cost}), work_dir=self.store.dir, progress=self.progress, cache=cache
        )
        s = self.session
        self.objectives, self.constraints, self.weights = run_goals(s, config, preset)
        self.trackers = [reg.get("tracker", name)(uri=config.track_uri) for name in dict.fromkeys(config.track)]
        self.space = strategy_space(s.methods, s.spec, enumerate_pipelines(s.methods, config.max_steps))
        self.given = [self._given_point(i, raw) for i, raw in enumerate(config.strategies, 1)]
        # Built before any model work, so a searcher whose backend is missing or broken, or a Ray cluster that
        # cannot be reached, stops the run at once.
        self.executor = self._executor(cost)
        self.references = References(self.store, self.executor, self.progress, set(s.runtimes.available))
        takes = inspect.signature(searcher_cls.__init__).parameters  # a plugin's may take neither
        extra = {k: v for k, v in (("workers", self.executor.slots), ("config", config)) if k in takes}
        self.searcher = searcher_cls(
            self.space, num_objectives=len(self.objectives), budget=config.episodes, seed=config.seed, **extra
        )

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
            raise RunStoreError(
                f"{self.store.dir} already holds a run",
                hint="pass --resume to continue it, or choose another --run-dir",
            )

    def _given_point(self, number: int, raw: dict[str, Any]) -> dict[str, Any]:
        return given_point(self.session, raw, number, self.config.max_steps)

    def _view(self) -> RunView:
        """What the searcher may see of this run (`Searcher.attach`)."""
        s = self.session
        return RunView(
            spec=s.spec,
            space=self.space,
            methods={n: m.description for n, m in s.methods.items()},
            objectives=self.objectives,
            constraints=list(self.config.constraints),
            baseline=self.baseline,
            episodes=self.config.episodes,
            seed=self.config.seed,
            config=self.config,
            candidates=self.candidates,
            frontier=self.frontier,
            validate=self._proposal,
            save_record=self.store.write_searcher_record,
            load_record=self.store.read_searcher_record,
        )

    def _proposal(self, raw: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        return checked_proposal(self.session, raw, self.config.max_steps)

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
            self.references.start(self.baseline)
            self.searcher.attach(self._view())
            given = self.given + self._suggestions()
            proposer = Proposer(self.searcher, lambda point: s.refuse(point_to_strategy(point)), given=given)
            self._run(proposer)
        finally:
            self.executor.close()
            self.progress.stop()
        frontier = self.frontier()
        promotion = (
            promote(
                s,
                self.candidates,
                frontier,
                cfg.promote,
                timeout_s=cfg.episode_timeout_s,
                save=self.store.write_result,
                progress=self.progress,
            )
            if cfg.promote > 0
            else None
        )
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
                    self.store.write_strategy(
                        number,
                        point,
                        point_to_strategy(point),
                        asked_after=told,
                        rationale=self.searcher.rationale(point),
                    )
                self.progress.episode(number, point_to_strategy(point).describe())
                self.executor.submit(number, point, current)
                in_flight[number] = point
            in_order = self.config.tell_order == "episode"
            if not (min(in_flight) in done if in_order else done):
                done.update(self.executor.wait())
            while done:
                number = min(in_flight) if in_order else min(done)
                if number not in done:
                    break
                candidate, current = self._record(number, in_flight.pop(number), done.pop(number), told)
                proposer.tell(candidate.point, candidate.losses, sum(candidate.violations.values()))
                told += 1
                self._tell_trackers("episode", candidate)
                self.progress.advance()
                if in_order:  # a slot refilled after each tell: asks fall between the same tells, whatever the timing
                    break

    def _tell_trackers(self, event: str, *args: Any) -> None:
        """A tracker that fails warns; the run and its files are unaffected."""
        for tracker in self.trackers:
            try:
                getattr(tracker, event)(*args)
            except Exception as exc:
                warnings.warn(f"tracker {tracker.name} failed at {event}: {type(exc).__name__}: {exc}", stacklevel=2)

    def _replay(self, proposer: Proposer) -> list[tuple[int, dict[str, Any]]]:
        """Rebuild the searcher's state from the run directory (`acf.search.replay`); returns the episodes asked but
        never finished."""
        return replay(self.store, proposer, self.candidates, self.progress)

    def _record(
        self, number: int, point: dict[str, Any], outcome: Outcome, told: int
    ) -> tuple[EpisodeResult, Frontier]:
        """An outcome as the episode's result: scored against the baseline, written, put on the frontier (returned)."""
        fields = outcome.model_dump(exclude={"error"})
        if outcome.status == "ok":
            missing = [m.name for m in self.objectives if m.name not in outcome.measurements]
            if missing:
                fields.update(status="failed", reason=f"AcfError: evaluators returned no {', '.join(missing)}")
        candidate = EpisodeResult(
            id=f"ep{number:03d}",
            episode=number,
            point=normal_point(point),
            told=told,
            asked_after=self.store.asked_after(number),
            rationale=self.store.rationale(number),
            **fields,
        )
        if candidate.status == "ok":
            score(candidate, self.baseline, self.objectives, self.constraints, self.weights)
        if outcome.error:
            self.store.write_error(number, outcome.error)
        self.store.write_result(candidate)
        if candidate.status == "ok":
            self.references.note(candidate)
        self.candidates.append(candidate)
        self.candidates.sort(key=lambda c: c.episode)
        frontier = self.frontier()
        self.store.write_frontier(frontier)
        self.progress.log(summary_line(candidate, self.objectives))
        return candidate, frontier

    def frontier(self) -> Frontier:
        return build_frontier(self.candidates, self.objectives, self.baseline)

    def _final(self, frontier: Frontier, seconds: float, promotion: Any) -> FinalResults:
        return final_results(
            self.config,
            self.candidates,
            frontier,
            self.objectives,
            self.baseline,
            seconds,
            promotion,
            self.searcher.summary(),
        )
