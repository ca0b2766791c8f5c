"""The base class of compression methods (quantization, pruning, distillation, recovery)."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from acf.plugins.context import Context
from acf.types.space import Space
from acf.types.spec import ModelSpec


class Stage(IntEnum):
    """Where a step may stand in a pipeline: steps run in non-decreasing stage."""

    PRUNE = 10
    DISTILL = 20
    RECOVER = 30
    QUANTIZE = 40
    QUANTIZED_RECOVER = 50


class Resources(BaseModel):
    """What a step is expected to need: peak memory on its device, disk, and rough seconds on 2 CPU cores
    (the pre-flight check divides by `GPU_SPEEDUP` on a GPU)."""

    peak_memory_bytes: int = 0
    disk_bytes: int = 0
    seconds: float = 0.0
    # What the numbers are made of, shown when the pre-flight check refuses (e.g. a per-layer database's size).
    note: str = ""


class Method:
    """A compression step.

    Subclass it, set `name`, and register the class from a plugin::

        from acf import Method, Stage, Space, Int, hookimpl

        class Halve(Method):
            name = "halve"
            stage = Stage.QUANTIZE
            def space(self, spec):
                return Space(params=[Int(name="bits", low=4, high=8)])
            def apply(self, model, params, ctx):
                ...  # change `model` in place or return a new one
                return model

        @hookimpl
        def register_methods(register):
            register(Halve)
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    stage: ClassVar[Stage] = Stage.QUANTIZE
    # The distributions (pip names) that do the work; their versions are part of the evaluation cache key.
    backends: ClassVar[tuple[str, ...]] = ()
    # True when no other step of the same stage may share a pipeline with it (two weight quantizers).
    exclusive_stage: ClassVar[bool] = False
    # False for a method a run uses only when it is named (`--method`): one that builds a large database first.
    in_default_runs: ClassVar[bool] = True

    def applies_to(self, spec: ModelSpec) -> str | None:
        """Why this method cannot be used on the model, or None when it can."""
        return None

    def space(self, spec: ModelSpec) -> Space:
        """The typed parameters the searcher may set, limited to what works on this model."""
        return Space()

    def may_follow(self, previous: tuple[str, ...]) -> str | None:
        """Why this method cannot come after `previous` steps (beyond the stage order), or None."""
        return None

    def lowest(self, spec: ModelSpec, metric: str) -> float | None:
        """The lowest value of a size metric (`effective_bits`, …) any setting of this method reaches on the
        model, or None when it does not say: a run whose every method says, and none reaches a constraint's
        bound, is refused at validation."""
        return None

    def suggest(self, model: Any, ctx: Context, budgets: dict[str, float]) -> list[dict[str, Any]]:
        """Parameter sets a run tries first, worked out from the model itself (a per-layer allocation from a
        sensitivity prior, say) at the run's budgets (`budgets`: metric → the upper bound an absolute `<=`
        constraint sets). Called once per run, after the baseline; the default suggests nothing."""
        return []

    def estimate(self, spec: ModelSpec, params: dict[str, Any]) -> Resources:
        """Resources the step needs beyond holding the model; the pre-flight check adds the model copies."""
        return Resources(peak_memory_bytes=0, seconds=1.0)

    def apply(self, model: Any, params: dict[str, Any], ctx: Context) -> Any:
        """Compress `model` (a transformers causal LM) and return it; raise to fail the episode."""
        raise NotImplementedError

    def prepare_reloaded(self, model: Any) -> None:
        """Make a reloaded export run like the in-memory model (same kernels), so `acf export`'s reload check
        compares the stored weights and not a kernel choice; the default does nothing."""

    def write(self, model: Any, folder: Path, ctx: Context) -> bool:
        """Write `model` as a Hugging Face folder when `save_pretrained` alone would not do; return True if done.

        Whenever a candidate is written (`acf.toolkit.write_candidate`: for its size, its runtime, `acf export`),
        the strategy's steps are asked, last first; when none handles it, `save_pretrained` runs.
        """
        return False
