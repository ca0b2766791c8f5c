"""An example evaluator: the fraction of linear weights that are exactly zero (what pruning left)."""

from __future__ import annotations

from acf import Evaluator, Measurement, Metric
from acf.toolkit import compressible_linears


class ZeroFraction(Evaluator):
    name = "{{name}}_zeros"
    description = "fraction of linear weights that are exactly zero"
    metrics = (
        Metric(
            name="{{name}}_zero_fraction",
            direction="max",
            category="size",
            description="zeros among the linear layers' weights",
        ),
    )

    def evaluate(self, model, ctx, fidelity):
        zeros = total = 0
        for _, module in compressible_linears(model):
            zeros += int((module.weight == 0).sum())
            total += module.weight.numel()
        return {"{{name}}_zero_fraction": Measurement.exact(zeros / max(1, total), fidelity=fidelity)}
