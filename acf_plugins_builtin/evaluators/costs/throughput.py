"""Throughput: generated tokens per second at several batch sizes (prefill + greedy decode, warm-up excluded)."""

from __future__ import annotations

from acf import Measurement, Metric
from acf.toolkit import median
from acf_plugins_builtin.evaluators.costs.timing import TimingEvaluator


class Throughput(TimingEvaluator):
    name = "throughput"
    description = "generated tokens/s at batch sizes 1, 4 and 16 (128-token prompts, 16 new tokens each)"
    metrics = (
        Metric(
            name="throughput_tps",
            direction="max",
            unit="tokens/s",
            category="latency",
            description="generated tokens per second at the largest batch size",
        ),
    )
    option_defaults = {"batch_sizes": "1,4,16", "prompt_len": 128, "new_tokens": 16, "repeats": 3, "warmup": 1}

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        o = self.options
        sizes = [int(b) for b in str(o["batch_sizes"]).split(",") if b.strip()]
        out: dict[str, Measurement] = {}
        deployed = ctx.deployment(model)
        for batch in sizes:
            rates = []
            for i in range(o["warmup"] + self.repeats(fidelity)):
                seconds = deployed.generate_seconds(batch, o["prompt_len"], o["new_tokens"], ctx.seed + i)
                if i >= o["warmup"]:
                    rates.append(batch * o["new_tokens"] / seconds)
            out[f"throughput_tps_b{batch}"] = median(rates, unit="tokens/s", fidelity=fidelity, **deployed.provenance())
        out["throughput_tps"] = out[f"throughput_tps_b{max(sizes)}"]
        return out
