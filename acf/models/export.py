"""Export a candidate as the artifact its measurements are of — the GGUF file of a GGUF candidate, else its Hugging
Face folder (compressed-tensors, bitsandbytes or dense) — checked by a round trip: reloaded in the runtime that
measured it, in a process of its own, it must score a fixed slice of the run's task as the run's candidate does."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from acf.errors import AcfError
from acf.models.artifact import HF
from acf.models.formats import candidate_format
from acf.models.loading import quiet_progress_bars
from acf.rundir.files import umask
from acf.rundir.names import CANDIDATE_RECORD, EXPORT_RECORD
from acf.types.config import RunConfig
from acf.types.measurement import Measurement
from acf.types.results import EpisodeResult

# The round trip: how many of the task's held-out texts, cut to how many tokens, and how far apart the mean
# log-likelihood per token of any one text may be between the run's candidate and the reloaded export.
ROUND_TRIP_ITEMS = 32
ROUND_TRIP_TOKENS = 128
ROUND_TRIP_TOLERANCE = 0.01  # nats per token
# `--format`: `native`, the artifact that was measured; `hf`, a Hugging Face folder whatever the candidate's format.
FORMATS = ("native", "hf")


class ExportError(AcfError):
    """The exported artifact did not reload with the same outputs: it is not a deliverable."""


@dataclass
class RoundTrip:
    """How the exported artifact reloaded: on which runtime, in which format, over how many items, and the largest
    difference of one item's mean log-likelihood per token from the run's candidate."""

    runtime: str
    format: str
    items: int
    max_difference: float
    tolerance: float
    note: str = ""


def export_candidate(
    session: Any,
    candidate: EpisodeResult,
    out: Path,
    config: RunConfig,
    *,
    form: str = "native",
    baseline: dict[str, Measurement] | None = None,
    references: dict[str, dict[str, Measurement]] | None = None,
) -> RoundTrip:
    """Rebuild `candidate` on `session` (the run's settings: same calibration data, same seed) and write what was
    measured to `out`: with `form` "native" the candidate's deliverable (`Context.checkpoint`: a GGUF file, or the
    Hugging Face folder a step's method writes — compressed-tensors — or `save_pretrained` does), with "hf" its
    Hugging Face folder. A model card and `acf_candidate.json` go beside it. Nothing is left at `out` unless the
    round trip holds (`round_trip`). The card shows each cost against the run's `baseline` and against the
    uncompressed model on the cost's own runtime (`references`: `baseline.json` → `by_runtime`)."""
    if form not in FORMATS:
        raise AcfError(f"--format must be one of {', '.join(FORMATS)}, got {form!r}")
    strategy = session.validate(candidate.strategy)
    session.progress.phase(f"rebuilding {candidate.id}: {strategy.describe()}")
    model = session.apply(strategy)
    ctx = session.ctx
    measured = candidate_format(model, ctx.tensor_formats)
    native = form == "native" or not ctx.records.deliverable
    source = ctx.checkpoint(model) if native else ctx.artifact(model, HF)
    fmt = measured if native else candidate_format(model, {})  # `--format hf` of a GGUF candidate: dense weights
    methods = [session.methods[s.method] for s in strategy.steps]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if source.is_file():
            shutil.copy2(source, staging / source.name)
        else:
            shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
            check_reload(model, ctx.tokenizer, staging, prepare=lambda m: [x.prepare_reloaded(m) for x in methods])
        exported = staging / source.name if source.is_file() else staging
        runtime = session.runtimes.native(fmt)
        result = round_trip(session, model, runtime, exported, fmt)
        served = out / source.name if source.is_file() else out
        base = session.spec.hub_id or config.model
        card = model_card(config, candidate, base, result, runtime, served, baseline or {}, references or {})
        (staging / "README.md").write_text(card)
        (staging / CANDIDATE_RECORD).write_text(json.dumps(candidate.model_dump(mode="json"), indent=2))
        record = {"artifact": exported.name if source.is_file() else ".", "round_trip": asdict(result)}
        (staging / EXPORT_RECORD).write_text(json.dumps(record, indent=2))
        os.chmod(staging, 0o777 & ~umask())  # mkdtemp makes 0700: give the folder the mode mkdir would
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def round_trip(session: Any, model: Any, runtime: Any, exported: Path, fmt: str) -> RoundTrip:
    """Score the first `ROUND_TRIP_ITEMS` held-out texts of the run's task (cut to `ROUND_TRIP_TOKENS` tokens) on
    the candidate as the run measured it — through its deployment where that scores tokens (llama.cpp's logits of
    a GGUF file), else in this process — and on `exported` loaded by `runtime` in a process of its own (by the
    fallback runtime, said in `note`, where `runtime` cannot load files); every item's mean log-likelihood per token
    must agree within `ROUND_TRIP_TOLERANCE`, else `ExportError`."""
    ctx, note = session.ctx, ""
    sequences = probe_sequences(ctx)
    session.progress.phase(f"round trip: {len(sequences)} items on {runtime.name}")
    try:
        deployed = ctx.deployment(model)
        if deployed.scores_tokens and not deployed.simulated:
            expected = [_mean(deployed.score_tokens(s)) for s in sequences]
        else:
            expected = [_mean(v) for v in token_logprobs(model, sequences)]
    finally:
        ctx.close_deployment()
    try:
        reloaded = runtime.load(exported, fmt)
    except NotImplementedError:
        fallback = session.runtimes.fallback_runtime()
        note = f"{runtime.name} cannot load files: checked on {fallback.name}"
        runtime, reloaded = fallback, fallback.load(exported, fmt)
    try:
        got = [_mean(reloaded.score_tokens(s)) for s in sequences]
    except Exception as exc:
        raise ExportError(f"the exported artifact does not load in {runtime.name}: {exc}") from None
    finally:
        reloaded.close()
    worst = max(abs(a - b) for a, b in zip(expected, got))
    if not worst <= ROUND_TRIP_TOLERANCE:  # NaN fails too
        raise ExportError(
            f"the exported artifact scores differently on {runtime.name}: an item's mean log-likelihood differs by "
            f"{worst:.3g} nats/token from the run's candidate (tolerance {ROUND_TRIP_TOLERANCE})"
        )
    return RoundTrip(runtime.name, fmt, len(sequences), worst, ROUND_TRIP_TOLERANCE, note)


def probe_sequences(ctx: Any) -> list[list[int]]:
    """Token ids of the task's first held-out texts (the calibration split), or of fixed probes without one."""
    try:
        texts = ctx.calibration_texts(ROUND_TRIP_ITEMS)
    except Exception:  # a task without held-out text: the fixed probes still compare the outputs
        texts = PROBES
    sequences = [ctx.tokenizer(t)["input_ids"][:ROUND_TRIP_TOKENS] for t in texts]
    return [s for s in sequences if len(s) >= 2]


def token_logprobs(model: Any, sequences: list[list[int]]) -> list[list[float]]:
    """The log-probability of each token after the first, as the in-memory candidate gives it."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for tokens in sequences:
            logits = model(input_ids=torch.tensor([tokens], device=device)).logits[0, :-1].float()
            picked = torch.log_softmax(logits, dim=-1)[torch.arange(len(tokens) - 1), torch.tensor(tokens[1:])]
            out.append(picked.tolist())
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / max(len(values), 1)


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


def model_card(
    config: RunConfig,
    candidate: EpisodeResult,
    base: str,
    result: RoundTrip,
    runtime: Any,
    served: Path,
    baseline: dict[str, Measurement],
    references: dict[str, dict[str, Measurement]],
) -> str:
    def ratio(reference: Measurement | None, m: Measurement) -> str:
        return f"×{m.value / reference.value:.3g}" if reference is not None and reference.value else ""

    rows = "\n".join(
        f"| {name} | {m.value:.6g}{m.caveats()} | [{m.low:.6g}, {m.high:.6g}] | {m.n} | {m.runtime or ''} "
        f"| {ratio(baseline.get(name), m)} | {ratio(references.get(m.runtime or '', {}).get(name), m)} |"
        for name, m in sorted(candidate.measurements.items())
    )
    steps = "\n".join(f"{i}. `{s.method}` {json.dumps(s.params)}" for i, s in enumerate(candidate.strategy.steps, 1))
    verdict = "met" if candidate.feasible else "violated: " + ", ".join(candidate.violations)
    serve = runtime.serve_command(served)
    serve_line = f" Serve it: `{serve}`" if serve else ""
    checked = f" ({result.note})" if result.note else ""
    return f"""---
library_name: {"gguf" if served.suffix == ".gguf" else "transformers"}
base_model: {base}
tags: [acf, compressed]
---

# {base} — compressed by acf ({candidate.id})

Found by `acf compress {config.model} --dataset {config.dataset}` (searcher {config.searcher}, seed {config.seed}).

## Deployment

`{served.name}`, format `{result.format}`, measured on the `{runtime.name}` runtime.{serve_line}

Round trip: reloaded on {result.runtime} in a fresh process, {result.items} held-out texts of the task scored within
{result.max_difference:.2g} nats/token (mean log-likelihood per token, per text) of the run's candidate (tolerance
{result.tolerance}){checked}.

## Strategy

{steps}

## Measured metrics (95% intervals, n samples)

| metric | value | interval | n | runtime | vs baseline | vs uncompressed on its runtime |
|---|---|---|---|---|---|---|
{rows}

Reward {candidate.reward:+.4f}; constraints {verdict}.
"""
