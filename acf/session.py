"""One measuring session: a model, its spec, the methods and evaluators that apply, a context and the evaluation
cache → `apply(strategy)` and `measure(strategy)`.

The search loop, `acf eval` and `acf export` all stand on it. It is built from plain, serialisable inputs (a model
name and options, or a `RunConfig`), so a remote worker can build its own.
"""

from __future__ import annotations

import copy
import functools
import gc
import hashlib
from pathlib import Path
from typing import Any, Callable

from acf.context import Context, Records
from acf.costs import CostModel, logical_params, with_predictions
from acf.errors import AcfError, DatasetNotFoundError, NonFiniteOutputError, StrategyError
from acf.machine import hardware_id, library_versions, model_bytes
from acf.measurement import QUICK, Measurement, all_finite
from acf.models.artifact import ArtifactStore
from acf.models.loading import fingerprint, load_model, load_tokenizer, pick_device
from acf.models.resolve import ensure_local, read_config, resolve_model
from acf.models.spec import infer_spec
from acf.plugins.manager import registry
from acf.plugins.runtime import Runtimes
from acf.plugins.selection import choose_evaluators, choose_methods, choose_task
from acf.preflight import Preflight
from acf.progress import Progress
from acf.rundir.cache import EvalCache
from acf.rundir.config import RunConfig
from acf.search.strategy import Strategy, validate_strategy

CACHE_VERSION = 4  # bumped when what an evaluation means changes, so stale cache entries are not reused
# The libraries whose versions are part of every evaluation's cache key (each step adds its own backends).
CORE_LIBRARIES = ("torch", "transformers")
# How many calibration texts are hashed into a strategy's cache key (more than any method asks for).
CALIBRATION_HASH_TEXTS = 1024
# (measured so far, predicted costs) → True when the candidate need not be timed at full fidelity
Screen = Callable[[dict[str, Measurement], dict[str, float]], bool]


class Session:
    """Everything needed to build and measure candidates of one model; validates its inputs before any model work.

    `task` names the task evaluator that supplies calibration text (and, in a search, the accuracy objective);
    `evaluators` the others. `methods` restricts the methods (default: every registered one that applies and
    fits the episode budget; naming one that does not is an error).
    """

    def __init__(self, model: str, *, task: str | None = None, evaluators: list[str] = (),
                 evaluator_options: dict[str, dict[str, Any]] | None = None, methods: list[str] = (),
                 device: str = "auto", dtype: str = "auto", runtime: str = "auto", trust_remote_code: bool = False,
                 seed: int = 0, episode_budget_s: float | None = None, work_dir: Path | None = None,
                 progress: Progress | None = None, cache: EvalCache | None = None):
        self.model_name, self.dtype, self.trust_remote_code = model, dtype, trust_remote_code
        self.progress = progress or Progress()
        self.cache = cache or EvalCache()
        self.costs = CostModel()
        self.work_dir = Path(work_dir) if work_dir else Path.cwd()
        self._base_model = None
        reg = registry()
        options = evaluator_options or {}
        self.task = choose_task(reg, task, options) if task else None
        self.resolved = resolve_model(model)
        self.spec = infer_spec(read_config(self.resolved), source=model, hub_id=self.resolved.hub_id,
                               path=str(self.resolved.path) if self.resolved.path else None)
        if self.spec.trust_remote_code_required and not trust_remote_code:
            raise AcfError(f"{model} needs trust_remote_code to load (its config maps to custom code)",
                           hint="pass --trust-remote-code if you trust that code")
        self.device = pick_device(device)
        self.runtimes = Runtimes(reg.all("runtime"), runtime, self.device)
        artifacts = ArtifactStore()
        self.preflight = Preflight(self.spec, self.device, episode_budget_s, self.work_dir, artifacts.root)
        self.budget_s = self.preflight.budget_s
        self.methods = choose_methods(reg, list(methods), self.spec, self.preflight, model)
        self.spec.applicable_methods = sorted(self.methods)
        self.evaluators = choose_evaluators(reg, self.task, list(evaluators), options)
        self.fidelity = {ev.name: ev.default_fidelity for ev in self.evaluators}
        self.preflight.check_base(model, dtype)
        self.ctx = Context(
            spec=self.spec, device=self.device, seed=seed, progress=self.progress,
            load_tokenizer=lambda: load_tokenizer(self.local_path, trust_remote_code=trust_remote_code),
            load_teacher=lambda: self.base_model,
            load_calibration=(lambda n: self.task.calibration_texts(self.ctx, n)) if self.task else None,
            deploy=self.runtimes.deploy, artifacts=artifacts,
        )
        self.local_path = ensure_local(self.resolved)
        self.spec.path = str(self.local_path)
        for ev in self.evaluators:
            ev.prepare(self.ctx)

    @classmethod
    def from_config(cls, config: RunConfig, *, work_dir: Path | None = None, progress: Progress | None = None,
                    cache: EvalCache | None = None) -> "Session":
        return cls(config.model, task=config.dataset, evaluators=config.evaluators,
                   evaluator_options=config.evaluator_options, methods=config.methods, device=config.device,
                   dtype=config.dtype, runtime=config.runtime, trust_remote_code=config.trust_remote_code, seed=config.seed,
                   episode_budget_s=config.episode_budget_s, work_dir=work_dir, progress=progress, cache=cache)

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
            self._base_model = load_model(self.local_path, device=self.device, dtype=self.dtype,
                                          trust_remote_code=self.trust_remote_code)
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
            self.ctx.records.objects.setdefault("methods", []).append(self.methods[step.method])
            model = self.methods[step.method].apply(model, step.params, self.ctx)
        return model

    # ------------------------------------------------------------------ measuring
    @functools.cached_property
    def calibration_source(self) -> dict[str, Any]:
        """What calibration text the steps are given: the task, its options and a hash of the texts."""
        if self.task is None:
            return {}
        try:
            texts = self.task.calibration_texts(self.ctx, CALIBRATION_HASH_TEXTS)
        except DatasetNotFoundError as exc:  # a step that needs calibration fails with this; others need none
            return {"task": self.task.name, "options": self.task.config(), "unavailable": str(exc)}
        digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24]
        return {"task": self.task.name, "options": self.task.config(), "texts": len(texts), "sha256": digest}

    def identity(self, strategy: Strategy | None) -> dict[str, Any]:
        """Everything besides the evaluator that decides a candidate's numbers: the model and how it is loaded,
        the strategy, its calibration text and the versions of the libraries that ran it."""
        out = {"model": self.fingerprint, "dtype": self.dtype, "versions": library_versions(CORE_LIBRARIES)}
        if strategy is None:
            return {**out, "strategy": "baseline"}
        backends = sorted({b for s in strategy.steps for b in self.methods[s.method].backends})
        return {**out, "strategy": strategy.key(), "calibration": self.calibration_source,
                "backends": library_versions(backends)}

    def cache_key(self, identity: dict[str, Any], evaluator: Any, fidelity: str) -> str:
        """Deterministic evaluators are reused on any machine of the same device type; the others (timings,
        memory, energy) only on the same hardware."""
        where = ({"hardware": self.device.split(":")[0], "runtime": self.runtimes.wanted} if evaluator.deterministic
                 else {"hardware": self.hardware, **self.runtimes.key()})  # a runtime may score accuracy too
        return self.cache.key(**identity, evaluator=evaluator.name, evaluator_version=evaluator.version,
                              fidelity=fidelity, config=evaluator.config(), **where, version=CACHE_VERSION)

    def _cached(self, key: str) -> dict[str, Measurement] | None:
        hit = self.cache.get(key)
        cached = {k: Measurement.model_validate(v) for k, v in (hit or {}).items()}
        return cached if hit is not None and all(all_finite(m) for m in cached.values()) else None

    def measure(self, strategy: Strategy | None, *, evaluators: list[Any] | None = None,
                fidelity: dict[str, str] | None = None,
                screen: Screen | None = None) -> tuple[dict[str, Measurement], bool, list[dict[str, Any]]]:
        """Every evaluator's measurements of the base model (None) or a strategy, from the cache where it has them.

        Returns the measurements, whether all came from the cache, and what the steps recorded.
        `evaluators`/`fidelity` override the session's. Accuracy and size are measured before any cost is timed;
        each cost is predicted first (`acf.costs`, recorded as `Measurement.predicted`), and `screen(measured,
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
            cached = self._cached(self.cache_key(identity, ev, fidelity[ev.name]))
            if cached is None:
                missing.append(ev)
            else:
                results.update(cached)
        steps_key = self.cache.key(**identity, records="steps", version=CACHE_VERSION)
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
            self._measure_missing(strategy, model, identity, missing, fidelity, results, screen)
        finally:
            self.ctx.close_deployment()
        self._note_baseline(strategy, results)
        return results, False, list(self.ctx.records.steps)

    def _measure_missing(self, strategy: Strategy | None, model: Any, identity: dict[str, Any], missing: list[Any],
                         fidelity: dict[str, str], results: dict[str, Measurement], screen: Screen | None) -> None:
        predicted = raw = None
        for ev in missing:
            if not ev.deterministic and predicted is None:  # the first timing: predict every cost, maybe screen
                predicted, raw = self._predict(strategy, model)
                if screen is not None and predicted and screen(results, predicted):
                    fidelity.update({e.name: QUICK for e in missing if not e.deterministic and QUICK in e.fidelities})
            key = self.cache_key(identity, ev, fidelity[ev.name])
            cached = self._cached(key)
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
        """Each cost of the candidate as predicted from the bytes and parameters its runtime runs (none for the
        baseline, which is the reference, or when the runtime cannot say what it reads)."""
        if strategy is None or not self.costs.baseline:
            return {}, {}
        deployed = self.ctx.deployment(model)
        weight = deployed.weight_bytes()
        if weight is None:
            return {}, {}
        if not self.costs.base_bytes:
            self.costs.base_bytes = model_bytes(self.base_model)
            self.costs.base_params = logical_params(self.base_model, {})
        return self.costs.predict(deployed.runtime, deployed.format, weight,
                                  logical_params(model, self.ctx.tensor_formats))

    def _note_baseline(self, strategy: Strategy | None, results: dict[str, Measurement]) -> None:
        if strategy is None:
            self.costs.set_baseline(results)

    def release(self) -> None:
        """Free what the last candidate left behind (memory of deep copies, the CUDA allocator's cache)."""
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

