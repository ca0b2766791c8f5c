"""Peak memory of inference on the candidate's runtime: the weights held plus the activation peak of one prefill
(how each runtime reads it: `Deployment.peak_memory_bytes`)."""

from __future__ import annotations

from acf import Evaluator, Measurement, Metric


class PeakMemory(Evaluator):
    name = "memory"
    in_default_runs = True
    deterministic = False  # a timing/reading of this machine: reused only on the same hardware
    description = "peak inference memory (weights in memory + activation peak of one prefill)"
    metrics = (
        Metric(
            name="peak_memory_mb", direction="min", unit="MB", category="memory", description="peak inference memory"
        ),
    )
    option_defaults = {"prompt_len": 128}

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        deployed = ctx.deployment(model)
        peak = deployed.peak_memory_bytes(self.options["prompt_len"])
        return {"peak_memory_mb": Measurement.exact(peak / 1e6, unit="MB", fidelity=fidelity, **deployed.provenance())}
