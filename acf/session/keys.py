"""What decides a measurement, as evaluation-cache keys: the model and how it is loaded, the strategy, its
calibration text, the versions of the libraries that ran it, the evaluator, and where it ran."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from acf.errors import DatasetNotFoundError
from acf.rundir.cache import EvalCache
from acf.system.machine import library_versions
from acf.types.measurement import Measurement, all_finite
from acf.types.strategy import Strategy

CACHE_VERSION = 4  # bumped when what an evaluation means changes, so stale cache entries are not reused
# The libraries whose versions are part of every evaluation's cache key (each step adds its own backends).
CORE_LIBRARIES = ("torch", "transformers")
# How many calibration texts are hashed into a strategy's cache key (more than any method asks for).
CALIBRATION_HASH_TEXTS = 1024


def calibration_source(task: Any, ctx: Any) -> dict[str, Any]:
    """What calibration text the steps are given: the task, its options and a hash of the texts."""
    if task is None:
        return {}
    try:
        texts = task.calibration_texts(ctx, CALIBRATION_HASH_TEXTS)
    except DatasetNotFoundError as exc:  # a step that needs calibration fails with this; others need none
        return {"task": task.name, "options": task.config(), "unavailable": str(exc)}
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:24]
    return {"task": task.name, "options": task.config(), "texts": len(texts), "sha256": digest}


def identity(
    fingerprint: str,
    dtype: str,
    strategy: Strategy | None,
    methods: dict[str, Any],
    calibration: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Everything besides the evaluator that decides a candidate's numbers: the model and how it is loaded,
    the strategy, its calibration text (`calibration()`, worked out only for a strategy) and the versions of the
    libraries that ran it."""
    out = {"model": fingerprint, "dtype": dtype, "versions": library_versions(CORE_LIBRARIES)}
    if strategy is None:
        return {**out, "strategy": "baseline"}
    backends = sorted({b for s in strategy.steps for b in methods[s.method].backends})
    return {**out, "strategy": strategy.key(), "calibration": calibration(), "backends": library_versions(backends)}


def cache_key(
    cache: EvalCache, identity: dict[str, Any], evaluator: Any, fidelity: str, device: str, hardware: str, runtimes: Any
) -> str:
    """Deterministic evaluators are reused on any machine of the same device type; the others (timings,
    memory, energy) only on the same hardware."""
    where = (
        {"hardware": device.split(":")[0], "runtime": runtimes.wanted}
        if evaluator.deterministic
        else {"hardware": hardware, **runtimes.key()}
    )  # a runtime may score accuracy too
    return cache.key(
        **identity,
        evaluator=evaluator.name,
        evaluator_version=evaluator.version,
        fidelity=fidelity,
        config=evaluator.config(),
        **where,
        version=CACHE_VERSION,
    )


def cached(cache: EvalCache, key: str) -> dict[str, Measurement] | None:
    """Measurements stored under `key`, unless missing or not all finite (then measured again)."""
    hit = cache.get(key)
    found = {k: Measurement.model_validate(v) for k, v in (hit or {}).items()}
    return found if hit is not None and all(all_finite(m) for m in found.values()) else None
