"""Cost predicted before it is timed, from the bytes and parameters a runtime runs, and learnt from what was timed.

Decode, throughput and energy per token are memory-bound: predicted to scale with the bytes of weights the runtime
reads per token. Prefill latency is compute-bound: it scales with the parameters. Peak memory moves with the
weights' bytes. The baseline's measurements are the reference; each (runtime, format) then corrects the physics by
the median ratio of what it measured to what was predicted (the last few full-fidelity timings), so a runtime whose
kernels are slower than their bytes suggest (bitsandbytes on a CPU) is predicted as it really runs.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable

from acf.system.machine import model_bytes
from acf.types.measurement import Measurement

# Metric → how it moves with (bytes ratio b, parameters ratio p), relative to the baseline's value.
SCALING: dict[str, Callable[[float, float], float]] = {
    "decode_tps": lambda b, p: 1 / b,
    "throughput_tps": lambda b, p: 1 / b,
    "energy_j_per_token": lambda b, p: b,
    "latency_ms": lambda b, p: p,
    "latency_p95_ms": lambda b, p: p,
}
# How many of a (runtime, format)'s latest ratios of measured to predicted the correction uses.
RECENT = 5


def scaling(metric: str) -> Callable[[float, float], float] | None:
    return SCALING.get(metric) or (SCALING["throughput_tps"] if metric.startswith("throughput_tps_b") else None)


def logical_params(model: Any, tensor_formats: dict[str, Any]) -> int:
    """Parameters of the model as it computes (a packed tensor counted at its logical shape, tied ones once)."""
    count, seen = 0, set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if param.data_ptr() in seen:
            continue
        seen.add(param.data_ptr())
        shape = getattr(tensor_formats.get(name), "shape", None)
        count += shape[0] * shape[1] if shape else param.numel()
    return count


class CostModel:
    """Predictions of each cost metric of a deployed candidate, from the baseline and what was measured since."""

    def __init__(self) -> None:
        self.baseline: dict[str, Measurement] = {}
        self.base_bytes = self.base_params = 0
        self.ratios: dict[tuple[str, str], dict[str, list[float]]] = {}

    def set_baseline(self, measurements: dict[str, Measurement]) -> None:
        """The uncompressed model's costs; `base_bytes` and `base_params` (what it ran) are set by the session
        when it first predicts."""
        self.baseline = {k: m for k, m in measurements.items() if scaling(k) or k == "peak_memory_mb"}

    def physics(self, weight_bytes: int, params: int) -> dict[str, float]:
        """What each metric would be if the runtime ran the candidate as fast per byte as the baseline ran."""
        if not self.baseline or not self.base_bytes:
            return {}
        b, p = weight_bytes / self.base_bytes, params / max(self.base_params, 1)
        out = {}
        for name, m in self.baseline.items():
            if name == "peak_memory_mb":
                out[name] = m.value + (weight_bytes - self.base_bytes) / 1e6
            else:
                out[name] = m.value * scaling(name)(b, p)
        return out

    def correction(self, runtime: str, fmt: str, metric: str) -> float:
        own = self.ratios.get((runtime, fmt), {}).get(metric)
        if not own:  # the runtime's other formats, else none
            own = [r for (rt, _), by in self.ratios.items() if rt == runtime for r in by.get(metric, [])]
        return statistics.median(own[-RECENT:]) if own else 1.0

    def predict(
        self, runtime: str, fmt: str, weight_bytes: int, params: int
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(predictions, the uncorrected physics they came from) for a candidate on `runtime` in format `fmt`."""
        raw = self.physics(weight_bytes, params)
        return {k: v * self.correction(runtime, fmt, k) for k, v in raw.items()}, raw

    def predict_deployed(
        self, deployed: Any, base_model: Any, model: Any, tensor_formats: dict[str, Any]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """`predict` for a candidate deployed on a runtime, from the bytes of weights the runtime reads and the
        parameters the model computes with (none when the runtime cannot say what it reads)."""
        weight = deployed.weight_bytes()
        if weight is None:
            return {}, {}
        if not self.base_bytes:
            self.base_bytes = model_bytes(base_model)
            self.base_params = logical_params(base_model, {})
        return self.predict(deployed.runtime, deployed.format, weight, logical_params(model, tensor_formats))

    def learn(self, runtime: str, fmt: str, raw: dict[str, float], measured: dict[str, Measurement]) -> None:
        """Remember measured / physics for every full-fidelity timing of a candidate."""
        for name, m in measured.items():
            if name in raw and raw[name] > 0 and m.fidelity == "full":
                self.ratios.setdefault((runtime, fmt), {}).setdefault(name, []).append(m.value / raw[name])


def with_predictions(measured: dict[str, Measurement], predicted: dict[str, float]) -> dict[str, Measurement]:
    return {k: m.model_copy(update={"predicted": predicted[k]}) if k in predicted else m for k, m in measured.items()}
