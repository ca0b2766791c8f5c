"""Latency: prefill time at a set prompt length and decode tokens/s with the KV cache, median of repeats."""

from __future__ import annotations

from acf import Measurement, Metric
from acf.toolkit import median, percentile
from acf_plugins_builtin.evaluators.costs.timing import TimingEvaluator

# A 95th percentile from fewer samples is one of the largest few values, not a percentile: below this many
# repeats `latency_p95_ms` is not reported (ask for it with --eval-option latency.repeats=20).
P95_MIN_REPEATS = 20


class Latency(TimingEvaluator):
    name = "latency"
    in_default_runs = True
    description = "prefill latency (ms) and decode throughput (tokens/s), batch 1, warm-up excluded"
    metrics = (
        Metric(name="latency_ms", direction="min", unit="ms", category="latency", description="median prefill time"),
        Metric(
            name="latency_p95_ms",
            direction="min",
            unit="ms",
            category="latency",
            description=f"95th percentile prefill time (with at least {P95_MIN_REPEATS} repeats)",
        ),
        Metric(
            name="decode_tps", direction="max", unit="tokens/s", category="latency", description="median decode speed"
        ),
    )
    option_defaults = {"prompt_len": 128, "new_tokens": 8, "repeats": 3, "warmup": 1}

    def metrics_for(self, fidelity: str) -> tuple[Metric, ...]:
        if self.repeats(fidelity) >= P95_MIN_REPEATS:
            return self.metrics
        return tuple(m for m in self.metrics if m.name != "latency_p95_ms")

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        o = self.options
        deployed = ctx.deployment(model)
        prefill, decode = [], []
        for i in range(o["warmup"] + self.repeats(fidelity)):
            seconds, rate = deployed.prefill_decode(o["prompt_len"], o["new_tokens"], ctx.seed)
            if i >= o["warmup"]:
                prefill.append(seconds * 1000)
                decode.append(rate)
        where = deployed.provenance()
        out = {
            "latency_ms": median(prefill, unit="ms", fidelity=fidelity, **where),
            "decode_tps": median(decode, unit="tokens/s", fidelity=fidelity, **where),
        }
        if len(prefill) >= P95_MIN_REPEATS:
            p95 = percentile(prefill, 0.95)
            # the interval: the order statistics that bracket the 95th percentile at ~95% confidence
            ordered, n = sorted(prefill), len(prefill)
            half = 1.96 * (n * 0.95 * 0.05) ** 0.5
            low, high = ordered[max(0, int(n * 0.95 - half) - 1)], ordered[min(n - 1, int(n * 0.95 + half))]
            out["latency_p95_ms"] = Measurement(
                value=p95, low=min(low, p95), high=max(high, p95), n=n, unit="ms", fidelity=fidelity, **where
            )
        return out
