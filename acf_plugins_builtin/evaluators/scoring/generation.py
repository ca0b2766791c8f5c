"""Batched greedy generation with stop strings, for generation-scored tasks."""

from __future__ import annotations

import copy
from typing import Any, Sequence

from acf.toolkit import model_device
from acf_plugins_builtin.evaluators.scoring.logprobs import shared_prefix

CPU_BATCH = 8
GPU_BATCH = (8, 128)


def generation_batch(model: Any, prompt_tokens: int, new_tokens: int) -> int:
    """Rows generated together: 8 on CPU; on GPU as many as the free memory holds (KV cache and logits)."""
    device = model_device(model)
    if device.type != "cuda":
        return CPU_BATCH
    import torch

    from acf_plugins_builtin.evaluators.scoring.logprobs import BATCH_MEMORY_SHARE, bytes_per_token

    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv = 2 * config.num_hidden_layers * heads * head_dim * next(model.parameters()).element_size()
    per_row = (prompt_tokens + new_tokens) * kv + prompt_tokens * bytes_per_token(model)
    free, _ = torch.cuda.mem_get_info(device)
    low, high = GPU_BATCH
    return int(min(high, max(low, free * BATCH_MEMORY_SHARE // per_row)))


def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    progress=None,
    temperature: float = 0.0,
) -> list[str]:
    """Continuations of `prompts`, each cut at the first stop string: greedy, or sampled when `temperature` > 0
    (seed torch first for reproducible samples).

    Tokens every prompt starts with (a few-shot preamble, `shared_prefix`) run once; each batch starts from
    their key/value cache, its own tokens padded between the prefix and them (the attention mask skips the
    padding and positions continue from the prefix)."""
    import torch

    from acf_plugins_builtin.evaluators.scoring import runtime as runtime_scoring

    if runtime_scoring.is_runtime(model):
        return runtime_scoring.greedy_generate(
            model,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            stop=stop,
            progress=progress,
            temperature=temperature,
        )
    device = model_device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    prefix = shared_prefix(encoded)
    cache = None
    if prefix:
        with torch.inference_mode():
            cache = model(input_ids=torch.tensor([prefix], device=device), use_cache=True).past_key_values
    outputs: list[str] = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    rows = generation_batch(model, len(encoded[order[0]]) if prompts else 0, max_new_tokens)
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
    )
    for start in range(0, len(order), rows):
        batch = order[start : start + rows]
        width = max(len(encoded[i]) for i in batch) - len(prefix)
        ids = torch.full((len(batch), len(prefix) + width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        ids[:, : len(prefix)], mask[:, : len(prefix)] = torch.tensor(prefix, dtype=torch.long), 1
        for r, i in enumerate(batch):
            own = encoded[i][len(prefix) :]
            ids[r, ids.shape[1] - len(own) :] = torch.tensor(own)
            mask[r, ids.shape[1] - len(own) :] = 1
        past = None
        if cache is not None:
            past = copy.deepcopy(cache)
            past.batch_repeat_interleave(len(batch))
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                past_key_values=past,
                max_new_tokens=max_new_tokens,
                **sampling,
                pad_token_id=pad,
                stop_strings=list(stop) or None,
                tokenizer=tokenizer,
            )
        for row, i in enumerate(batch):
            text = tokenizer.decode(out[row, ids.shape[1] :], skip_special_tokens=True)
            for s in stop:
                text = text.split(s, 1)[0]
            outputs[i] = text
        if progress is not None:
            progress.advance(len(batch))
    return outputs
