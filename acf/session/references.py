"""The uncompressed model's costs on one runtime: the reference a candidate measured on that runtime is also seen
against, so that the runtime's share of a speed-up and the compression's are both visible (`baseline.json` →
`by_runtime`)."""

from __future__ import annotations

from typing import Any

from acf.models.formats import candidate_format
from acf.plugins.context import Records
from acf.types.measurement import Measurement


def measure_reference(session: Any, runtime: str) -> dict[str, Measurement]:
    """Every cost the session times (its non-deterministic evaluators), of the base model deployed on `runtime`
    (llama.cpp: the weights as an F32 GGUF file), from the evaluation cache where it has them."""
    chosen = session.runtimes.available[runtime]()
    identity = {**session.identity(None), "reference_runtime": runtime}
    timed = [ev for ev in session.evaluators if not ev.deterministic]
    results: dict[str, Measurement] = {}
    deploy = session.ctx.deploy
    session.ctx.records = Records()  # the base model's own: nothing a candidate's steps recorded
    session.ctx.deploy = lambda model, ctx: chosen.deploy(model, ctx, candidate_format(model, ctx.tensor_formats))
    try:
        session.measure_missing(None, session.base_model, identity, timed, dict(session.fidelity), results, None)
    finally:
        session.ctx.close_deployment()
        session.ctx.deploy = deploy
    return results
