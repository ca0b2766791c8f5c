"""Token ids of text pairs, split exactly as lm-eval splits a context and its continuation."""

from __future__ import annotations

from typing import Any


def split_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of a context and its continuation, split as lm-eval does: trailing spaces of the context move
    to the continuation; the continuation is what tokenizing both together adds after the context's tokens."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    ctx = tokenizer(context, add_special_tokens=True)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=True)["input_ids"]
    return ctx, whole[len(ctx) :] or whole[-1:]
