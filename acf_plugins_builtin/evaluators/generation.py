"""Batched greedy generation with stop strings, for generation-scored tasks."""

from __future__ import annotations

from typing import Any, Sequence

from .scoring import model_device

CPU_BATCH = 8
GPU_BATCH = (8, 128)


def generation_batch(model: Any, prompt_tokens: int, new_tokens: int) -> int:
    """Rows generated together: 8 on CPU; on GPU as many as the free memory holds (KV cache and logits)."""
    device = model_device(model)
    if device.type != "cuda":
        return CPU_BATCH
    import torch

    from .scoring import BATCH_MEMORY_SHARE, bytes_per_token

    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv = 2 * config.num_hidden_layers * heads * head_dim * next(model.parameters()).element_size()
    per_row = (prompt_tokens + new_tokens) * kv + prompt_tokens * bytes_per_token(model)
    free, _ = torch.cuda.mem_get_info(device)
    low, high = GPU_BATCH
    return int(min(high, max(low, free * BATCH_MEMORY_SHARE // per_row)))


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
    longest = len(tokenizer(prompts[order[0]])["input_ids"]) if prompts else 0
    rows = generation_batch(model, longest, max_new_tokens)
    try:
        for start in range(0, len(order), rows):
            batch = order[start:start + rows]
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
