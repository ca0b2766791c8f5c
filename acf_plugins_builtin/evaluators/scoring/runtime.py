"""Scoring through a runtime (`Deployment.score_tokens`, `generate_tokens`): the same requests as the in-process
paths — the same token ids, split the same way, the same rolling windows — answered by the runtime's own logits,
one sequence at a time, so that a GGUF candidate's accuracy is llama.cpp's."""

from __future__ import annotations

from typing import Any, Sequence

from acf import AcfError


def is_runtime(model: Any) -> bool:
    return bool(getattr(model, "scores_tokens", False))


def choice_logprobs(deployed, tokenizer, items, progress=None) -> list[list[tuple[float, int]]]:
    from acf.toolkit import split_pair

    out = []
    for context, choices in items:
        scored: dict[tuple[int, ...], tuple[float, int]] = {}  # a repeated choice is scored once
        row = []
        for ctx_ids, cont in (split_pair(tokenizer, context, c) for c in choices):
            if tuple(cont) not in scored:
                logprobs = deployed.score_tokens(ctx_ids + cont)
                scored[tuple(cont)] = (float(sum(logprobs[-len(cont) :])), len(cont))
            row.append(scored[tuple(cont)])
        out.append(row)
        if progress is not None:
            progress.advance(1)
    return out


def window_logprobs(deployed, windows, progress=None) -> list[tuple[float, int]]:
    """Each (token ids, n): the summed log-probability of its last n tokens (continuations, rolling windows)."""
    out = []
    for ids, n in windows:
        out.append((float(sum(deployed.score_tokens(list(ids))[-n:])), n))
        if progress is not None:
            progress.advance(1)
    return out


def greedy_generate(
    deployed,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    progress=None,
    temperature: float = 0.0,
) -> list[str]:
    if temperature > 0:
        raise AcfError(f"sampled generation is not supported on the {deployed.runtime} runtime (greedy only)")
    outputs = []
    for prompt in prompts:
        tokens = deployed.generate_tokens(tokenizer(prompt)["input_ids"], max_new_tokens, list(stop))
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        for s in stop:
            text = text.split(s, 1)[0]
        outputs.append(text)
        if progress is not None:
            progress.advance(1)
    return outputs
