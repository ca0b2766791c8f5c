"""Throughput: generated tokens per second at several batch sizes (prefill + greedy decode, warm-up excluded)."""

from __future__ import annotations

import time

from acf import Evaluator, Measurement, Metric
from acf.toolkit import median

from .latency import _sync
from .scoring import model_device


def decode_run(model, batch: int, prompt_len: int, new_tokens: int, seed: int) -> float:
    """Seconds to prefill `batch` random prompts and decode `new_tokens` greedily with the KV cache."""
    import torch

    device = model_device(model)
    vocab = model.get_input_embeddings().weight.shape[0]
    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, vocab, (batch, prompt_len), generator=gen).to(device)
    with torch.inference_mode():
        _sync(device)
        started = time.perf_counter()
        out = model(input_ids=prompt, use_cache=True)
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        for _ in range(new_tokens - 1):
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        _sync(device)
        return time.perf_counter() - started


class Throughput(Evaluator):
    name = "throughput"
    deterministic = False  # a timing/reading of this machine: reused only on the same hardware
    description = "generated tokens/s at batch sizes 1, 4 and 16 (128-token prompts, 16 new tokens each)"
    metrics = (
        Metric(name="throughput_tps", direction="max", unit="tokens/s", category="latency",
               description="generated tokens per second at the largest batch size"),
    )
    option_defaults = {"batch_sizes": "1,4,16", "prompt_len": 128, "new_tokens": 16, "repeats": 3, "warmup": 1}

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        o = self.options
        sizes = [int(b) for b in str(o["batch_sizes"]).split(",") if b.strip()]
        out: dict[str, Measurement] = {}
        for batch in sizes:
            rates = []
            for i in range(o["warmup"] + o["repeats"]):
                seconds = decode_run(model, batch, o["prompt_len"], o["new_tokens"], ctx.seed + i)
                if i >= o["warmup"]:
                    rates.append(batch * o["new_tokens"] / seconds)
            out[f"throughput_tps_b{batch}"] = median(rates, unit="tokens/s", fidelity=fidelity)
        out["throughput_tps"] = out[f"throughput_tps_b{max(sizes)}"]
        return out
