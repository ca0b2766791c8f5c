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
from typing import Any

from acf.context import Context, Records
from acf.errors import AcfError, DatasetNotFoundError, InfeasibleError, NonFiniteOutputError, StrategyError, UnknownPluginError
from acf.machine import free_disk_bytes, free_memory_bytes, hardware_id, library_versions, model_bytes
from acf.measurement import Measurement, all_finite
from acf.models.loading import fingerprint, load_model, load_tokenizer, pick_device
from acf.models.resolve import ensure_local, read_config, resolve_model
from acf.models.spec import infer_spec
from acf.plugins.evaluator import split_task
from acf.plugins.manager import registry
from acf.plugins.registry import Registry
from acf.plugins.runtime import Runtimes
from acf.progress import Progress
from acf.rundir.cache import EvalCache
from acf.rundir.config import RunConfig
from acf.search.strategy import Strategy, validate_strategy

CACHE_VERSION = 4  # bumped when what an evaluation means changes, so stale cache entries are not reused
# The libraries whose versions are part of every evaluation's cache key (each step adds its own backends).
CORE_LIBRARIES = ("torch", "transformers")
# How many calibration texts are hashed into a strategy's cache key (more than any method asks for).
CALIBRATION_HASH_TEXTS = 1024
# Headroom the pre-flight check keeps free, as a fraction of what the OS reports available.
MEMORY_HEADROOM = 0.9
# Default per-episode budget of estimated compression seconds, and how much faster a GPU runs the estimates.
DEFAULT_EPISODE_BUDGET_S = {"cpu": 30.0, "cuda": 900.0}
GPU_SPEEDUP = 20.0


class PreflightRefused(Exception):
    """The pre-flight check refused a strategy (it would not fit this machine or the episode budget)."""


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
        self.work_dir = Path(work_dir) if work_dir else Path.cwd()
        self._base_model = None
        reg = registry()
        options = evaluator_options or {}
        self.task = self._task(reg, task, options) if task else None
        self.resolved = resolve_model(model)
        self.spec = infer_spec(read_config(self.resolved), source=model, hub_id=self.resolved.hub_id,
                               path=str(self.resolved.path) if self.resolved.path else None)
        if self.spec.trust_remote_code_required and not trust_remote_code:
            raise AcfError(f"{model} needs trust_remote_code to load (its config maps to custom code)",
                           hint="pass --trust-remote-code if you trust that code")
        self.device = pick_device(device)
        self.runtimes = Runtimes(reg.all("runtime"), runtime, self.device)
        self.budget_s = episode_budget_s or DEFAULT_EPISODE_BUDGET_S["cuda" if self.device.startswith("cuda") else "cpu"]
        self.methods = self._methods(reg, list(methods))
        self.spec.applicable_methods = sorted(self.methods)
        self.evaluators = self._evaluators(reg, list(evaluators), options)
        self.fidelity = {ev.name: ev.default_fidelity for ev in self.evaluators}
        self._check_memory_for_base()
        self.ctx = Context(
            spec=self.spec, device=self.device, seed=seed, progress=self.progress,
            load_tokenizer=lambda: load_tokenizer(self.local_path, trust_remote_code=trust_remote_code),
            load_teacher=lambda: self.base_model,
            load_calibration=(lambda n: self.task.calibration_texts(self.ctx, n)) if self.task else None,
            deploy=self.runtimes.deploy,
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

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _task(reg: Registry, text: str, options: dict[str, dict[str, Any]]) -> Any:
        name, own = split_task(text, options)
        tasks = [n for n, cls in reg.all("evaluator").items() if cls.is_task]
        if name not in tasks:
            raise UnknownPluginError("dataset", name, tasks)
        return reg.get("evaluator", name)(**own)

    def _methods(self, reg: Registry, wanted: list[str]) -> dict[str, Any]:
        methods = {}
        for name in wanted or sorted(reg.all("method")):
            method = reg.get("method", name)()
            why_not = method.applies_to(self.spec)
            if not why_not:
                fastest = min(self.seconds(method, point) for point in method.space(self.spec).grid(2) or [{}])
                if fastest > self.budget_s:
                    why_not = (f"its fastest setting needs about {fastest:.0f} s per episode here, over the "
                               f"{self.budget_s:.0f} s episode budget (raise --episode-budget)")
            if why_not and wanted:
                raise AcfError(f"method {name} does not apply to {self.model_name}: {why_not}")
            if not why_not:
                methods[name] = method
        if not methods:
            raise AcfError(f"no compression method applies to {self.model_name}")
        return methods

    def _evaluators(self, reg: Registry, names: list[str], options: dict[str, dict[str, Any]]) -> list[Any]:
        out = [self.task] if self.task else []
        for text in dict.fromkeys(names):
            name, own = split_task(text, options)
            if self.task is None or name != self.task.name:
                out.append(reg.get("evaluator", name)(**own))
        unknown = set(options) - {ev.name for ev in out}
        if unknown:
            raise AcfError(f"options given for evaluator(s) not in this run: {', '.join(sorted(unknown))}")
        return out

    def _check_memory_for_base(self) -> None:
        dtype = self.dtype if self.dtype != "auto" else ("float32" if self.device == "cpu" else self.spec.dtype)
        need, free = self.spec.memory_bytes[dtype], free_memory_bytes(self.device)
        if need > free * MEMORY_HEADROOM:
            raise InfeasibleError(
                f"{self.model_name} needs about {need / 2**30:.1f} GiB to load on {self.device}, "
                f"but only {free / 2**30:.1f} GiB is free",
                hint="use a smaller model or a machine with more memory",
            )

    # ------------------------------------------------------------------ strategies
    def validate(self, strategy: Strategy) -> Strategy:
        return validate_strategy(strategy, self.methods, self.spec)

    def seconds(self, method: Any, params: dict[str, Any]) -> float:
        seconds = method.estimate(self.spec, params).seconds
        return seconds / GPU_SPEEDUP if self.device.startswith("cuda") else seconds

    def over_budget(self, strategy: Strategy) -> str | None:
        """Why a strategy's estimated compression time exceeds the episode budget, or None."""
        total = sum(self.seconds(self.methods[s.method], s.params) for s in strategy.steps)
        if total > self.budget_s:
            return f"estimated {total:.0f} s of compression, over the {self.budget_s:.0f} s episode budget"
        return None

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
        self._preflight(strategy)
        self.ctx.records = Records()
        model = copy.deepcopy(self.base_model)
        for step in strategy.steps:
            self.progress.phase(f"applying {step.method}")
            self.ctx.records.begin_step(step.method)
            self.ctx.records.objects.setdefault("methods", []).append(self.methods[step.method])
            model = self.methods[step.method].apply(model, step.params, self.ctx)
        return model

    def _preflight(self, strategy: Strategy) -> None:
        estimates = [self.methods[s.method].estimate(self.spec, s.params) for s in strategy.steps]
        need = model_bytes(self.base_model) + max(e.peak_memory_bytes for e in estimates)
        free = free_memory_bytes(self.device)
        if need > free * MEMORY_HEADROOM:
            raise PreflightRefused(f"pre-flight: needs about {need / 2**30:.2f} GiB on {self.device}, "
                                   f"{free / 2**30:.2f} GiB free")
        over = self.over_budget(strategy)
        if over:
            raise PreflightRefused(f"pre-flight: {over}")
        disk, free_disk = sum(e.disk_bytes for e in estimates), free_disk_bytes(self.work_dir)
        if disk > free_disk:
            raise PreflightRefused(f"pre-flight: needs about {disk / 2**30:.2f} GiB of disk, "
                                   f"{free_disk / 2**30:.2f} GiB free")

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

    def measure(self, strategy: Strategy | None, *, evaluators: list[Any] | None = None,
                fidelity: dict[str, str] | None = None) -> tuple[dict[str, Measurement], bool, list[dict[str, Any]]]:
        """Every evaluator's measurements of the base model (None) or a strategy, from the cache where it has them.

        Returns the measurements, whether all came from the cache, and what the steps recorded.
        `evaluators`/`fidelity` override the session's.
        """
        identity = self.identity(strategy)
        fidelity = {**self.fidelity, **(fidelity or {})}
        results: dict[str, Measurement] = {}
        missing = []
        for ev in evaluators or self.evaluators:
            key = self.cache_key(identity, ev, fidelity[ev.name])
            hit = self.cache.get(key)
            cached = {k: Measurement.model_validate(v) for k, v in (hit or {}).items()}
            if hit is not None and all(all_finite(m) for m in cached.values()):
                results.update(cached)
            else:
                missing.append((ev, key))
        steps_key = self.cache.key(**identity, records="steps", version=CACHE_VERSION)
        if not missing:
            return results, True, self.cache.get(steps_key) or []
        if strategy is None:
            self.ctx.records = Records()
            model = self.base_model
        else:
            model = self.apply(strategy)
            self.cache.put(steps_key, self.ctx.records.steps)
        try:
            for ev, key in missing:
                self.progress.phase(f"evaluating {ev.name}")
                measured = self.ctx.note_scoring(ev.evaluate(model, self.ctx, fidelity[ev.name]))
                broken = [f"{k} = {v.value}" for k, v in measured.items() if not all_finite(v)]
                if broken:  # never cached, never scored: the episode fails with the reason
                    what = "the uncompressed model" if strategy is None else "the candidate"
                    raise NonFiniteOutputError(f"non-finite model output: {what} gives {', '.join(broken)}")
                self.cache.put(key, {k: v.model_dump() for k, v in measured.items()})
                results.update(measured)
        finally:
            self.ctx.close_deployment()
        return results, False, list(self.ctx.records.steps)

    def release(self) -> None:
        """Free what the last candidate left behind (memory of deep copies, the CUDA allocator's cache)."""
        gc.collect()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

