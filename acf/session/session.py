"""One measuring session: a model, its spec, the methods and evaluators that apply, a context and the evaluation
cache → `apply(strategy)` and `measure(strategy)`.

The search loop, `acf eval` and `acf export` all stand on it. It is built from plain, serialisable inputs (a model
name and options, or a `RunConfig`), so a remote worker can build its own.
"""

from __future__ import annotations

import copy
import functools
import gc
from pathlib import Path
from typing import Any, Callable

from acf.errors import AcfError, NonFiniteOutputError, StrategyError
from acf.models.artifact import ArtifactStore
from acf.models.loading import fingerprint, load_model, load_tokenizer, pick_device
from acf.models.spec import infer_spec
from acf.plugins.context import Context, Records
from acf.plugins.manager import registry
from acf.plugins.runtime import Runtimes
from acf.plugins.validation import validate_strategy
from acf.rundir.cache import EvalCache
from acf.session import keys
from acf.session.costs import CostModel, with_predictions
from acf.session.preflight import Preflight
from acf.session.resolve import ensure_local, read_config, resolve_model
from acf.session.selection import choose_evaluators, choose_methods, choose_task
from acf.system.machine import hardware_id
from acf.system.progress import Progress
from acf.types.config import RunConfig, SessionOptions
from acf.types.measurement import QUICK, Measurement, all_finite
from acf.types.strategy import Strategy

# (measured so far, predicted costs) → True when the candidate need not be timed at full fidelity
Screen = Callable[[dict[str, Measurement], dict[str, float]], bool]


class Session:
    """Everything needed to build and measure candidates of one model; validates its inputs before any model work.

    Built from `SessionOptions` (`RunConfig.session_options()`, or the same options as keywords:
    `Session("smollm2-135m", dataset="gsm8k", evaluators=["size"])`). `dataset` names the task evaluator that
    supplies calibration text (and, in a search, the accuracy objective); `evaluators` the others. `methods`
    restricts the methods (default: every registered one that applies and fits the episode budget; naming one that
    does not is an error).
    """

    def __init__(
        self,
        model: str | SessionOptions,
        *,
        work_dir: Path | None = None,
        progress: Progress | None = None,
        cache: EvalCache | None = None,
        **options: Any,
    ):
        if isinstance(model, str):
            model = SessionOptions.build(model=model, **options)
        elif options:
            raise AcfError(
                f"Session takes its options once: in SessionOptions or as keywords, not both ({', '.join(options)})"
            )
        self.options = o = model
        self.model_name, self.dtype, self.trust_remote_code = o.model, o.dtype, o.trust_remote_code
        self.progress = progress or Progress()
        self.cache = cache or EvalCache()
        self.costs = CostModel()
        self.work_dir = Path(work_dir) if work_dir else Path.cwd()
        self._base_model = None
        reg = registry()
        self.dataset_evaluator = choose_task(reg, o.dataset, o.evaluator_options) if o.dataset else None
        self.resolved = resolve_model(o.model)
        self.spec = infer_spec(
            read_config(self.resolved),
            source=o.model,
            hub_id=self.resolved.hub_id,
            path=str(self.resolved.path) if self.resolved.path else None,
        )
        if self.spec.trust_remote_code_required and not o.trust_remote_code:
            raise AcfError(
                f"{o.model} needs trust_remote_code to load (its config maps to custom code)",
                hint="pass --trust-remote-code if you trust that code",
            )
        self.device = pick_device(o.device)
        self.runtimes = Runtimes(reg.all("runtime"), o.runtime, self.device)
        artifacts = ArtifactStore()
        self.preflight = Preflight(self.spec, self.device, o.episode_budget_s, self.work_dir, artifacts.root)
        self.budget_s = self.preflight.budget_s
        self.methods = choose_methods(reg, list(o.methods), self.spec, self.preflight, o.model)
        self.spec.applicable_methods = sorted(self.methods)
        self.evaluators = choose_evaluators(reg, self.dataset_evaluator, list(o.evaluators), o.evaluator_options)
        self.fidelity = {ev.name: ev.default_fidelity for ev in self.evaluators}
        self.preflight.check_base(o.model, o.dtype)
        task = self.dataset_evaluator
        self.ctx = Context(
            spec=self.spec,
            device=self.device,
            seed=o.seed,
            progress=self.progress,
            load_tokenizer=lambda: load_tokenizer(self.local_path, trust_remote_code=o.trust_remote_code),
            load_teacher=lambda: self.base_model,
            load_calibration=(lambda n: task.calibration_texts(self.ctx, n)) if task else None,
            deploy=self.runtimes.deploy,
            artifacts=artifacts,
        )
        self.local_path = ensure_local(self.resolved)
        self.spec.path = str(self.local_path)
        for ev in self.evaluators:
            ev.prepare(self.ctx)

    @classmethod
    def from_config(
        cls,
        config: RunConfig,
        *,
        work_dir: Path | None = None,
        progress: Progress | None = None,
        cache: EvalCache | None = None,
    ) -> "Session":
        return cls(config.session_options(), work_dir=work_dir, progress=progress, cache=cache)

    # ------------------------------------------------------------------ strategies
    def validate(self, strategy: Strategy) -> Strategy:
        return validate_strategy(strategy, self.methods, self.spec)

    def seconds(self, method: Any, params: dict[str, Any]) -> float:
        return self.preflight.seconds(method, params)

    def over_budget(self, strategy: Strategy) -> str | None:
        """Why a strategy's estimated compression time exceeds the episode budget, or None."""
        return self.preflight.over_budget(strategy, self.methods)

    def refuse(self, strategy: Strategy) -> str | None:
        """Why a valid strategy should not cost an episode (over the budget), or None; invalid ones pass."""
        try:
            return self.over_budget(self.validate(strategy))
        except StrategyError:
            return None

    # ------------------------------------------------------------------ models
    @property
    def base_model(self) -> Any:
        if self._base_model is None:
            self.progress.phase("loading model")
            self._base_model = load_model(
                self.local_path, device=self.device, dtype=self.dtype, trust_remote_code=self.trust_remote_code
            )
        return self._base_model

    @functools.cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.local_path)

    @functools.cached_property
    def hardware(self) -> str:
        return hardware_id(self.device)

    def apply(self, strategy: Strategy) -> Any:
        """A compressed copy of the base model: pre-flight, then every step in order. What the steps record is
        in `ctx.records` afterwards."""
        self.preflight.check(strategy, self.methods, self.base_model)
        self.ctx.records = Records()
        model = copy.deepcopy(self.base_model)
        for step in strategy.steps:
            self.progress.phase(f"applying {step.method}")
            self.ctx.records.begin_step(step.method)
            self.ctx.records.methods.append(self.methods[step.method])
            model = self.methods[step.method].apply(model, step.params, self.ctx)
        return model

    # ------------------------------------------------------------------ measuring
    @functools.cached_property
    def calibration_source(self) -> dict[str, Any]:
        """What calibration text the steps are given: the task, its options and a hash of the texts."""
        return keys.calibration_source(self.dataset_evaluator, self.ctx)

    def identity(self, strategy: Strategy | None) -> dict[str, Any]:
        """Everything besides the evaluator that decides a candidate's numbers (`acf.session.keys.identity`)."""
        return keys.identity(self.fingerprint, self.dtype, strategy, self.methods, lambda: self.calibration_source)

    def cache_key(self, identity: dict[str, Any], evaluator: Any, fidelity: str) -> str:
        return keys.cache_key(self.cache, identity, evaluator, fidelity, self.device, self.hardware, self.runtimes)

    def measure(
        self,
        strategy: Strategy | None,
        *,
        evaluators: list[Any] | None = None,
        fidelity: dict[str, str] | None = None,
        screen: Screen | None = None,
    ) -> tuple[dict[str, Measurement], bool, list[dict[str, Any]]]:
        """Every evaluator's measurements of the base model (None) or a strategy, from the cache where it has them.

        Returns the measurements, whether all came from the cache, and what the steps recorded.
        `evaluators`/`fidelity` override the session's. Accuracy and size are measured before any cost is timed;
        each cost is predicted first (`acf.session.costs`, recorded as `Measurement.predicted`), and `screen(measured,
        predicted)` — the search's — may answer that the candidate is dominated even at its best case: its
        costs are then timed at the `quick` fidelity (one repeat).
        """
        identity = self.identity(strategy)
        fidelity = {**self.fidelity, **(fidelity or {})}
        # accuracy and size (deterministic) before the timings, which the screen may shorten
        order = sorted(evaluators or self.evaluators, key=lambda ev: not ev.deterministic)
        results: dict[str, Measurement] = {}
        missing = []
        for ev in order:
            cached = keys.cached(self.cache, self.cache_key(identity, ev, fidelity[ev.name]))
            if cached is None:
                missing.append(ev)
            else:
                results.update(cached)
        steps_key = self.cache.key(**identity, records="steps", version=keys.CACHE_VERSION)
        if not missing:
            self._note_baseline(strategy, results)
            return results, True, self.cache.get(steps_key) or []
        if strategy is None:
            self.ctx.records = Records()
            model = self.base_model
        else:
            model = self.apply(strategy)
            self.cache.put(steps_key, self.ctx.records.steps)
        try:
            self.measure_missing(strategy, model, identity, missing, fidelity, results, screen)
        finally:
            self.ctx.close_deployment()
        self._note_baseline(strategy, results)
        return results, False, list(self.ctx.records.steps)

    def measure_missing(
        self,
        strategy: Strategy | None,
        model: Any,
        identity: dict[str, Any],
        missing: list[Any],
        fidelity: dict[str, str],
        results: dict[str, Measurement],
        screen: Screen | None,
    ) -> None:
        """Each evaluator of `missing` on `model` into `results` under `identity`'s cache keys: from the cache, else
        measured (a non-finite number fails it) and cached; costs predicted first for a strategy."""
        predicted = raw = None
        for ev in missing:
            if not ev.deterministic and predicted is None:  # the first timing: predict every cost, maybe screen
                predicted, raw = self._predict(strategy, model)
                if screen is not None and predicted and screen(results, predicted):
                    fidelity.update({e.name: QUICK for e in missing if not e.deterministic and QUICK in e.fidelities})
            key = self.cache_key(identity, ev, fidelity[ev.name])
            cached = keys.cached(self.cache, key)
            if cached is not None:
                results.update(cached)
                continue
            self.progress.phase(f"evaluating {ev.name}")
            measured = self.ctx.note_scoring(ev.evaluate(model, self.ctx, fidelity[ev.name]))
            broken = [f"{k} = {v.value}" for k, v in measured.items() if not all_finite(v)]
            if broken:  # never cached, never scored: the episode fails with the reason
                what = "the uncompressed model" if strategy is None else "the candidate"
                raise NonFiniteOutputError(f"non-finite model output: {what} gives {', '.join(broken)}")
            if predicted:
                measured = with_predictions(measured, predicted)
                deployed = self.ctx.deployment(model)
                self.costs.learn(deployed.runtime, deployed.format, raw, measured)
            self.cache.put(key, {k: v.model_dump() for k, v in measured.items()})
            results.update(measured)

    def _predict(self, strategy: Strategy | None, model: Any) -> tuple[dict[str, float], dict[str, float]]:
        """Each cost of the candidate as predicted (none for the baseline, which is the reference)."""
        if strategy is None or not self.costs.baseline:
            return {}, {}
        return self.costs.predict_deployed(self.ctx.deployment(model), self.base_model, model, self.ctx.tensor_formats)

    def _note_baseline(self, strategy: Strategy | None, results: dict[str, Measurement]) -> None:
        if strategy is None:
            self.costs.set_baseline(results)

    def release(self) -> None:
        """Free what the last candidate left behind (memory of deep copies, the CUDA allocator's cache)."""
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
