"""What the timing evaluators (latency, throughput, energy) share: readings of this machine, taken at `full`
fidelity (the `repeats` option) or `quick` (one repeat: a candidate dominated on accuracy even at its best case)."""

from __future__ import annotations

from acf import Evaluator
from acf.toolkit import QUICK


class TimingEvaluator(Evaluator):
    deterministic = False  # a timing/reading of this machine: reused only on the same hardware
    fidelities = (QUICK, "full")
    default_fidelity = "full"

    def repeats(self, fidelity: str) -> int:
        return 1 if fidelity == QUICK else self.options["repeats"]
