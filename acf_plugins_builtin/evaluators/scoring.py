"""Batched log-likelihood scoring shared by the task and perplexity evaluators."""

from __future__ import annotations

from typing import Any, Sequence

# Tokens per forward batch (padded length × rows). On CPUs small batches stay in cache and run fastest
# (measured on SmolLM2-135M, 2 cores: 1024 → 20 s, 4096 → 27 s for 64 GSM8K items); GPUs want large ones.
TOKENS_PER_BATCH = {"cpu": 1024, "cuda": 16384}


def model_device(model: Any):
    return next(model.parameters()).device


def continuation_logprobs(
    model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], *, max_length: int = 1024, progress=None
) -> list[tuple[float, int]]:
    """For each (context, continuation): the summed log-probability of the continuation's tokens and their count.

    Context and continuation are tokenized together and split where the context ends, as lm-eval does.
    Sequences are batched by length with left padding, so only the last positions' logits are computed.
    """
    import torch

    encoded = []
    for context, continuation in pairs:
        ctx_ids = tokenizer(context, add_special_tokens=True)["input_ids"]
        whole = tokenizer(context + continuation, add_special_tokens=True)["input_ids"]
        seq = whole[-max_length:]
        encoded.append((seq, min(max(1, len(whole) - len(ctx_ids)), len(seq) - 1)))
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
    results: list[tuple[float, int]] = [(0.0, 0)] * len(encoded)
    device = model_device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    i = 0
    with torch.inference_mode():
        while i < len(order):
            longest = len(encoded[order[i]][0])
            rows = max(1, TOKENS_PER_BATCH.get(device.type, 1024) // longest)
            batch = order[i:i + rows]
            i += len(batch)
            ids = torch.full((len(batch), longest), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), longest), dtype=torch.long)
            for r, j in enumerate(batch):
                seq = encoded[j][0]
                ids[r, longest - len(seq):] = torch.tensor(seq)
                mask[r, longest - len(seq):] = 1
            keep = max(encoded[j][1] for j in batch) + 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(
                input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                logits_to_keep=keep, use_cache=False,
            ).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            targets = ids[:, -(keep - 1):].to(device)
            token_lp = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            for r, j in enumerate(batch):
                n = encoded[j][1]
                results[j] = (float(token_lp[r, -n:].sum()), n)
            if progress is not None:
                progress.advance(len(batch))
    return results


def rolling_nll(model: Any, tokenizer: Any, texts: Sequence[str], *, window: int = 512, progress=None) -> list[tuple[float, int]]:
    """Per document: total negative log-likelihood of its tokens and their count, in disjoint windows."""
    pairs: list[tuple[list[int], int]] = []  # (window ids, tokens to score)
    owners: list[int] = []
    bos = tokenizer.bos_token_id
    for d, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if bos is not None:
            ids = [bos] + ids
        for start in range(0, max(len(ids) - 1, 0), window):
            chunk = ids[start:start + window + 1]
            if len(chunk) >= 2:
                pairs.append((chunk, len(chunk) - 1))
                owners.append(d)
    scores = _score_token_windows(model, tokenizer, pairs, progress)
    totals = [(0.0, 0)] * len(texts)
    for d, (lp, n) in zip(owners, scores):
        nll, count = totals[d]
        totals[d] = (nll - lp, count + n)
    return totals


def _score_token_windows(model, tokenizer, windows, progress):
    import torch

    device = model_device(model)
    out = []
    with torch.inference_mode():
        for ids, n in windows:
            x = torch.tensor([ids], device=device)
            logits = model(input_ids=x, use_cache=False).logits.float()
            lp = torch.log_softmax(logits[0, :-1], dim=-1).gather(-1, x[0, 1:].unsqueeze(-1)).squeeze(-1)
            out.append((float(lp[-n:].sum()), n))
            if progress is not None:
                progress.advance(1)
    return out
