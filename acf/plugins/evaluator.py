"""The base class of evaluators: task accuracy, perplexity, and costs (size, latency, memory)."""

from __future__ import annotations

from typing import Any, ClassVar

from acf.errors import AcfError
from acf.plugins.context import Context
from acf.types.measurement import Measurement
from acf.types.objectives import Metric


class Evaluator:
    """Measures a model and returns `{metric name: Measurement}`.

    A *task* evaluator (`is_task = True`) can be named by `--dataset`; it also supplies calibration text
    drawn from a split it never evaluates on. Options come from the CLI (`--limit`, `--data-path`,
    `--eval-option NAME.KEY=VALUE`) as keyword arguments and are part of the cache key::

        from acf import Evaluator, Metric, Measurement, hookimpl

        class ParamCount(Evaluator):
            name = "params"
            metrics = (Metric(name="params_m", direction="min", category="size"),)
            def evaluate(self, model, ctx, fidelity):
                n = sum(p.numel() for p in model.parameters()) / 1e6
                return {"params_m": Measurement.exact(n, unit="M")}

        @hookimpl
        def register_evaluators(register):
            register(ParamCount)
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    # Cheapest first; the coordinator searches on `default_fidelity`.
    fidelities: ClassVar[tuple[str, ...]] = ("full",)
    default_fidelity: ClassVar[str] = "full"
    is_task: ClassVar[bool] = False
    # True for a cost evaluator a search measures when `--evaluator` names none (size, latency, memory).
    in_default_runs: ClassVar[bool] = False
    # Metrics this evaluator puts on the frontier when `--objective` names none (besides the task metric).
    default_objectives: ClassVar[tuple[str, ...]] = ()
    # True when the result depends only on the model and the strategy: the cache reuses it on any machine of the
    # same device type. False for readings of the machine (timings, memory, energy): reused only on the same hardware.
    deterministic: ClassVar[bool] = True

    # Bump when the scoring code changes what a number means: part of the evaluation cache key.
    version: ClassVar[str] = "1"

    # Every option this evaluator accepts, with its default (its type converts values given as text).
    option_defaults: ClassVar[dict[str, Any]] = {}

    # Named variants (name → what it is), the default first; chosen as `TASK:VARIANT` wherever a task is named
    # (`--dataset commonsenseqa:cloze`, `acf eval … --tasks commonsenseqa:cloze`) or with the `variant` option.
    variants: ClassVar[dict[str, str]] = {}

    def __init__(self, **options: Any):
        if "variant" in options and not self.variants and "variant" not in self.option_defaults:
            raise AcfError(f"{self.name} has no variants (write it as {self.name!r}, without ':')")
        defaults = {**self.option_defaults, **({"variant": next(iter(self.variants))} if self.variants else {})}
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            accepted = ", ".join(defaults) or "none"
            raise AcfError(f"evaluator {self.name} has no option(s) {', '.join(unknown)}; it accepts: {accepted}")
        given = {k: _convert(k, v, defaults[k]) for k, v in options.items() if v is not None}
        self.options = {**defaults, **given}
        if self.variants and self.options["variant"] not in self.variants:
            raise AcfError(
                f"{self.name} has no variant {self.options['variant']!r}; variants: "
                + ", ".join(f"{k} ({v})" for k, v in self.variants.items())
            )

    @property
    def variant(self) -> str | None:
        return self.options.get("variant")

    def config(self) -> dict[str, Any]:
        """Everything that changes the result besides the model and the fidelity (part of the cache key)."""
        return dict(sorted(self.options.items()))

    # Fidelities that measure one metric only (e.g. {"loglik": "gsm8k_loglik", "generate": "gsm8k_accuracy"});
    # a fidelity not named here measures every metric.
    metric_per_fidelity: ClassVar[dict[str, str]] = {}

    def primary_metric(self, fidelity: str) -> str:
        """The metric a task evaluator reports as its accuracy at `fidelity`."""
        return self.metric_per_fidelity.get(fidelity, self.metrics[0].name)

    def metrics_for(self, fidelity: str) -> tuple[Metric, ...]:
        if fidelity in self.metric_per_fidelity:
            return tuple(m for m in self.metrics if m.name == self.metric_per_fidelity[fidelity])
        return self.metrics

    def prepare(self, ctx: Context) -> None:
        """Load data once before the first evaluation (errors here stop the run before any episode)."""

    def shared(self, ctx: Context, build: Any, *options: str) -> Any:
        """`build()` once per run for this evaluator and the values of `options` (e.g. its data file), then
        the same object from `ctx.memo` (data loaded once, whatever the fidelity or episode). Each place that
        calls it (the function `build` is defined in) keeps its own object."""
        key = (self.name, getattr(build, "__qualname__", ""), *((name, self.options.get(name)) for name in options))
        if key not in ctx.memo:
            ctx.memo[key] = build()
        return ctx.memo[key]

    def evaluate(self, model: Any, ctx: Context, fidelity: str) -> dict[str, Measurement]:
        raise NotImplementedError

    def calibration_texts(self, ctx: Context, n: int) -> list[str]:
        """Up to `n` texts for calibration, never from the split this evaluator scores (tasks only)."""
        raise NotImplementedError(f"{self.name} supplies no calibration data")


def _convert(key: str, value: Any, default: Any) -> Any:
    """Options typed on the command line arrive as text: convert them to the default's type."""
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        return type(default)(value)
    except ValueError:
        raise AcfError(f"option {key}={value!r} is not a valid {type(default).__name__}") from None


def split_task(text: str, options: dict[str, dict[str, Any]] | None = None) -> tuple[str, dict[str, Any]]:
    """`TASK` or `TASK:VARIANT` → (evaluator name, its options with the variant added)."""
    name, _, variant = text.partition(":")
    own = dict((options or {}).get(name, {}))
    if variant:
        if own.get("variant", variant) != variant:
            raise AcfError(f"{text} names variant {variant!r}, but its options say {own['variant']!r}")
        own["variant"] = variant
    return name, own
