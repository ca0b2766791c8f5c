"""Latency: prefill time at a set prompt length and decode tokens/s with the KV cache, median of repeats."""

from __future__ import annotations

import time

from acf import Evaluator, Measurement, Metric
from acf.toolkit import median, percentile

# A 95th percentile from fewer samples is one of the largest few values, not a percentile: below this many
# repeats `latency_p95_ms` is not reported (ask for it with --eval-option latency.repeats=20).
P95_MIN_REPEATS = 20

from .scoring import model_device


def _sync(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


class Latency(Evaluator):
    name = "latency"
    deterministic = False  # a timing/reading of this machine: reused only on the same hardware
    description = "prefill latency (ms) and decode throughput (tokens/s), batch 1, warm-up excluded"
    metrics = (
        Metric(name="latency_ms", direction="min", unit="ms", category="latency", description="median prefill time"),
        Metric(name="latency_p95_ms", direction="min", unit="ms", category="latency",
               description=f"95th percentile prefill time (with at least {P95_MIN_REPEATS} repeats)"),
        Metric(name="decode_tps", direction="max", unit="tokens/s", category="latency", description="median decode speed"),
    )
    option_defaults = {"prompt_len": 128, "new_tokens": 8, "repeats": 3, "warmup": 1}

    def metrics_for(self, fidelity: str) -> tuple[Metric, ...]:
        if self.options["repeats"] >= P95_MIN_REPEATS:
            return self.metrics
        return tuple(m for m in self.metrics if m.name != "latency_p95_ms")

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        import torch

        o = self.options
        device = model_device(model)
        vocab = model.get_input_embeddings().weight.shape[0]
        gen = torch.Generator().manual_seed(ctx.seed)
        prompt = torch.randint(0, vocab, (1, o["prompt_len"]), generator=gen).to(device)
        prefill, decode = [], []
        with torch.inference_mode():
            for i in range(o["warmup"] + o["repeats"]):
                _sync(device)
                t0 = time.perf_counter()
                out = model(input_ids=prompt, use_cache=True)
                _sync(device)
                t1 = time.perf_counter()
                past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
                for _ in range(o["new_tokens"]):
                    out = model(input_ids=token, past_key_values=past, use_cache=True)
                    past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
                _sync(device)
                t2 = time.perf_counter()
                if i >= o["warmup"]:
                    prefill.append((t1 - t0) * 1000)
                    decode.append(o["new_tokens"] / (t2 - t1))
        out = {"latency_ms": median(prefill, unit="ms", fidelity=fidelity),
               "decode_tps": median(decode, unit="tokens/s", fidelity=fidelity)}
        if len(prefill) >= P95_MIN_REPEATS:
            p95 = percentile(prefill, 0.95)
            # the interval: the order statistics that bracket the 95th percentile at ~95% confidence
            ordered, n = sorted(prefill), len(prefill)
            half = 1.96 * (n * 0.95 * 0.05) ** 0.5
            low, high = ordered[max(0, int(n * 0.95 - half) - 1)], ordered[min(n - 1, int(n * 0.95 + half))]
            out["latency_p95_ms"] = Measurement(value=p95, low=min(low, p95), high=max(high, p95), n=n, unit="ms",
                                                fidelity=fidelity)
        return out
