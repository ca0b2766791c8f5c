"""Batched greedy generation with stop strings, for generation-scored tasks."""

from __future__ import annotations

from typing import Any, Sequence

from .scoring import model_device

BATCH = 8


def greedy_generate(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int,
                    stop: Sequence[str] = (), progress=None, temperature: float = 0.0) -> list[str]:
    """Continuations of `prompts`, each cut at the first stop string: greedy, or sampled when `temperature` > 0
    (seed torch first for reproducible samples)."""
    import torch

    device = model_device(model)
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    outputs: list[str] = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    try:
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            enc = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True).to(device)
            with torch.inference_mode():
                sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
                out = model.generate(**enc, max_new_tokens=max_new_tokens, **sampling,
                                     pad_token_id=tokenizer.pad_token_id, stop_strings=list(stop) or None,
                                     tokenizer=tokenizer)
            for row, i in enumerate(batch):
                text = tokenizer.decode(out[row, enc["input_ids"].shape[1]:], skip_special_tokens=True)
                for s in stop:
                    text = text.split(s, 1)[0]
                outputs[i] = text
            if progress is not None:
                progress.advance(len(batch))
    finally:
        tokenizer.padding_side = side
    return outputs
