"""Calibration data for the methods that need it: the task's held-out texts, tokenized once per size."""

from __future__ import annotations

from typing import Any


def calibration_ids(ctx: Any, samples: int, seq_len: int) -> list[list[int]]:
    """Token ids of up to `samples` calibration texts, each cut to `seq_len` tokens (memoised in ctx)."""
    key = f"calibration-ids:{samples}:{seq_len}"
    if key not in ctx.cache:
        texts = ctx.calibration_texts(samples)
        if not texts:
            from acf import DatasetNotFoundError

            raise DatasetNotFoundError("the task supplied no calibration texts")
        tok = ctx.tokenizer
        ctx.cache[key] = [tok(t, truncation=True, max_length=seq_len)["input_ids"] for t in texts]
    return ctx.cache[key]


def calibration_dataset(ctx: Any, samples: int, seq_len: int):
    """The same ids as a `datasets.Dataset` (what llm-compressor's oneshot takes)."""
    from datasets import Dataset

    ids = calibration_ids(ctx, samples, seq_len)
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]})
