"""Export a candidate as an ordinary Hugging Face model folder, checked by reloading it."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from acf.errors import AcfError
from acf.models.artifact import HF
from acf.models.loading import quiet_progress_bars
from acf.rundir.names import CANDIDATE_RECORD
from acf.types.config import RunConfig
from acf.types.results import EpisodeResult


class ExportError(AcfError):
    """The exported folder did not reload with the same outputs: it is not a deliverable."""


def export_candidate(session: Any, candidate: EpisodeResult, out: Path, config: RunConfig) -> Path:
    """Rebuild `candidate` on `session` (the run's settings: same calibration data, same seed) and save it to `out`.

    The candidate's Hugging Face folder (`Context.artifact`: written once per content, by `save_pretrained` unless
    a step's method writes it itself — compressed-tensors for quantized results) is copied, given a model card,
    and reloaded with `AutoModelForCausalLM.from_pretrained` to check that it gives the same logits.
    """
    strategy = session.validate(candidate.strategy)
    session.progress.phase(f"rebuilding {candidate.id}: {strategy.describe()}")
    model = session.apply(strategy)
    tokenizer = session.ctx.tokenizer
    methods = [session.methods[s.method] for s in strategy.steps]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copytree(
            session.ctx.artifact(model, HF), staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*")
        )
        (staging / "README.md").write_text(model_card(config, candidate, session.spec.hub_id or config.model))
        (staging / CANDIDATE_RECORD).write_text(json.dumps(candidate.model_dump(mode="json"), indent=2))
        check_reload(model, tokenizer, staging, prepare=lambda m: [method.prepare_reloaded(m) for method in methods])
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


PROBES = [
    "Question: Tom has 3 apples and buys 5 more. How many apples does he have?\nAnswer:",
    "The capital of France is",
]


def check_reload(
    model: Any, tokenizer: Any, folder: Path, *, atol: float = 1e-3, rtol: float = 1e-2, prepare: Any = None
) -> None:
    """Reload `folder` with transformers and compare its logits with `model`'s on probe prompts.

    Allowed difference: `atol + rtol × max|logit|`. `prepare(reloaded)` lets the strategy's methods select the
    kernels the in-memory model ran (bitsandbytes' standard 4-bit path instead of its AVX512-BF16 one), so the
    check is of the stored weights.
    """
    import torch
    from transformers import AutoModelForCausalLM

    device = next(model.parameters()).device
    try:
        with quiet_progress_bars():
            # device_map places quantized (bitsandbytes) weights as they load; .to() afterwards would break them.
            reloaded = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True, device_map={"": str(device)})
    except Exception as exc:
        raise ExportError(f"the exported folder does not reload in transformers: {type(exc).__name__}: {exc}") from None
    reloaded.eval()
    if prepare is not None:
        prepare(reloaded)
    worst, scale = 0.0, 0.0
    with torch.inference_mode():
        for text in PROBES:
            ids = tokenizer(text, return_tensors="pt")["input_ids"].to(device)
            a, b = model(input_ids=ids).logits.float(), reloaded(input_ids=ids).logits.float()
            worst = max(worst, (a - b).abs().max().item())
            scale = max(scale, a.abs().max().item())
    if worst > atol + rtol * scale:
        raise ExportError(
            f"the exported folder reloads with different outputs (max logit difference {worst:.3g} "
            f"for logits up to {scale:.3g})"
        )


def model_card(config: RunConfig, candidate: EpisodeResult, base: str) -> str:
    rows = "\n".join(
        f"| {name} | {m.value:.6g}{m.caveats()} | [{m.low:.6g}, {m.high:.6g}] | {m.n} |"
        for name, m in sorted(candidate.measurements.items())
    )
    steps = "\n".join(f"{i}. `{s.method}` {json.dumps(s.params)}" for i, s in enumerate(candidate.strategy.steps, 1))
    verdict = "met" if candidate.feasible else "violated: " + ", ".join(candidate.violations)
    return f"""---
library_name: transformers
base_model: {base}
tags: [acf, compressed]
---

# {base} — compressed by acf ({candidate.id})

Found by `acf compress {config.model} --dataset {config.dataset}` (searcher {config.searcher}, seed {config.seed}).

## Strategy

{steps}

## Measured metrics (95% intervals, n samples)

| metric | value | interval | n |
|---|---|---|---|
{rows}

Reward {candidate.reward:+.4f}; constraints {verdict}.
"""
