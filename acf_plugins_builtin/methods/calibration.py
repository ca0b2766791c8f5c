"""Calibration data for the methods that need it: the task's held-out texts, tokenized once per size."""

from __future__ import annotations

from typing import Any

# Forward FLOP/s seen on 2 CPU cores (SmolLM2-135M: ~600 tokens/s × 2 × 134.5M parameters).
CPU_FLOPS = 1.6e11


def forward_seconds(spec: Any, samples: int, seq_len: int = 256) -> float:
    """Rough CPU seconds for one forward pass over `samples` calibration texts of up to `seq_len` tokens."""
    return samples * seq_len * 2 * spec.num_parameters / CPU_FLOPS


def calibration_ids(ctx: Any, samples: int, seq_len: int) -> list[list[int]]:
    """Token ids of up to `samples` calibration texts, each cut to `seq_len` tokens (memoised in ctx)."""
    key = f"calibration-ids:{samples}:{seq_len}"
    if key not in ctx.memo:
        texts = ctx.calibration_texts(samples)
        if not texts:
            from acf import DatasetNotFoundError

            raise DatasetNotFoundError("the task supplied no calibration texts")
        tok = ctx.tokenizer
        ctx.memo[key] = [tok(t, truncation=True, max_length=seq_len)["input_ids"] for t in texts]
    return ctx.memo[key]


def calibration_dataset(ctx: Any, samples: int, seq_len: int):
    """The same ids as a `datasets.Dataset` (what llm-compressor's oneshot takes)."""
    from datasets import Dataset

    ids = calibration_ids(ctx, samples, seq_len)
    return Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]})


def calibration_chunks(ctx: Any, samples: int, seq_len: int) -> list[list[int]]:
    """The calibration texts joined (EOS between them) and cut into up to `samples` chunks of exactly `seq_len`
    tokens — for backends that need equal-length samples (AutoRound)."""
    key = f"calibration-chunks:{samples}:{seq_len}"
    if key not in ctx.memo:
        tok = ctx.tokenizer
        sep = [tok.eos_token_id] if tok.eos_token_id is not None else []
        stream: list[int] = []
        for text in ctx.calibration_texts(max(samples * 4, 64)):
            stream += tok(text, add_special_tokens=False)["input_ids"] + sep
        chunks = [stream[i : i + seq_len] for i in range(0, len(stream) - seq_len + 1, seq_len)][:samples]
        if not chunks:
            from acf import DatasetNotFoundError

            raise DatasetNotFoundError(f"not enough calibration text for one chunk of {seq_len} tokens")
        ctx.memo[key] = chunks
    return ctx.memo[key]
