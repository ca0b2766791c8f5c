"""Cheap first for cost: every cost is predicted before it is timed, and a candidate dominated even at its best case
is timed once (`quick`)."""

import pytest

from acf.rundir.cache import EvalCache
from acf.session.costs import CostModel
from acf.session.session import Session
from acf.types.frontier import build_frontier, dominated_at_best
from acf.types.measurement import Measurement
from acf.types.objectives import Metric
from acf.types.results import EpisodeResult
from acf.types.strategy import Step, Strategy

RTN4 = Strategy(steps=[Step(method="rtn", params={"bits": 4, "group_size": 32})])
COSTS = ("latency_ms", "decode_tps", "peak_memory_mb")


def test_decode_scales_with_bytes_prefill_with_parameters_and_each_runtime_is_learnt():
    costs = CostModel()
    costs.set_baseline(
        {
            "decode_tps": Measurement.exact(10.0),
            "latency_ms": Measurement.exact(100.0),
            "peak_memory_mb": Measurement.exact(500.0),
            "gsm8k_loglik": Measurement.exact(-1.0),
        }
    )
    costs.base_bytes, costs.base_params = 400_000_000, 100_000_000
    predicted, raw = costs.predict("hf", "pack-quantized-w4", 100_000_000, 100_000_000)
    assert predicted == raw and "gsm8k_loglik" not in predicted  # only costs; nothing learnt yet: the physics
    assert predicted["decode_tps"] == pytest.approx(40.0)  # a quarter of the bytes: four times the decode speed
    assert predicted["latency_ms"] == pytest.approx(100.0)  # the same parameters: the same prefill
    assert predicted["peak_memory_mb"] == pytest.approx(200.0)  # 300 MB fewer weights
    # that runtime really decoded 4-bit weights at 10 tok/s (dequantized on the fly): its next one is predicted so
    costs.learn("hf", "pack-quantized-w4", raw, {"decode_tps": Measurement.exact(10.0)})
    assert costs.predict("hf", "pack-quantized-w4", 100_000_000, 100_000_000)[0]["decode_tps"] == pytest.approx(10.0)
    assert costs.predict("hf", "pack-quantized-w8", 200_000_000, 100_000_000)[0]["decode_tps"] == pytest.approx(5.0)
    assert costs.predict("llama.cpp", "gguf-Q4_K_M", 100_000_000, 100_000_000)[0]["decode_tps"] == pytest.approx(40.0)
    # a quick timing teaches nothing
    costs.learn("llama.cpp", "gguf-Q4_K_M", raw, {"decode_tps": Measurement.exact(1.0, fidelity="quick")})
    assert costs.predict("llama.cpp", "gguf-Q4_K_M", 100_000_000, 100_000_000)[0]["decode_tps"] == pytest.approx(40.0)


def session_for(model, data, tmp_path):
    return Session(
        str(model),
        dataset="gsm8k",
        evaluators=["size", "latency", "memory"],
        methods=["rtn"],
        cache=EvalCache(tmp_path / "cache"),
        evaluator_options={
            "gsm8k": {"data_path": str(data), "limit": 2},
            "latency": {"repeats": 3, "new_tokens": 2, "prompt_len": 8},
        },
    )


def test_every_cost_of_a_candidate_carries_its_prediction(acf_tiny_model, gsm8k_file, tmp_path):
    session = session_for(acf_tiny_model, gsm8k_file, tmp_path)
    base, _, _ = session.measure(None)
    assert all(base[n].predicted is None for n in COSTS)  # the baseline is the reference
    seen = []
    rtn, _, _ = session.measure(
        session.validate(RTN4),
        screen=lambda measured, predicted: seen.append((set(measured), dict(predicted))) or False,
    )
    ((measured, predicted),) = seen
    assert {"gsm8k_loglik", "size_mb"} <= measured and not measured & set(COSTS)  # accuracy and size came first
    for name in COSTS:
        assert rtn[name].predicted == pytest.approx(predicted[name]) and rtn[name].predicted > 0
        assert rtn[name].fidelity == "full"
    assert rtn["latency_ms"].n == 3
    assert rtn["gsm8k_loglik"].predicted is None


def test_a_screened_candidate_is_timed_once_and_says_so(acf_tiny_model, gsm8k_file, tmp_path):
    session = session_for(acf_tiny_model, gsm8k_file, tmp_path)
    session.measure(None)
    rtn, _, _ = session.measure(session.validate(RTN4), screen=lambda measured, predicted: True)
    assert rtn["latency_ms"].fidelity == "quick" and rtn["latency_ms"].n == 1
    assert "(quick timing)" in rtn["latency_ms"].caveats() and "(quick timing)" in rtn["decode_tps"].caveats()
    assert rtn["peak_memory_mb"].fidelity == "full"  # one reading anyway: no quick fidelity
    assert rtn["gsm8k_loglik"].fidelity != "quick"
    # a full timing of the same candidate is another measurement, not the quick one from the cache
    full, _, _ = session.measure(session.validate(RTN4))
    assert full["latency_ms"].fidelity == "full" and full["latency_ms"].n == 3


def candidate(id, loglik, latency, low=None, high=None):
    m = {
        "gsm8k_loglik": Measurement(
            value=loglik, low=low if low is not None else loglik, high=high if high is not None else loglik
        ),
        "latency_ms": Measurement.exact(latency),
    }
    return EpisodeResult(
        id=id, episode=int(id[2:]), strategy=RTN4, status="ok", measurements=m, feasible=True, reward=0.0
    )


def test_dominated_at_best_uses_the_favourable_end_of_every_interval_and_band():
    objectives = [Metric(name="gsm8k_loglik", direction="max"), Metric(name="latency_ms", direction="min")]
    baseline = {"gsm8k_loglik": Measurement.exact(-1.0), "latency_ms": Measurement.exact(100.0)}
    frontier = build_frontier([candidate("ep001", -1.1, 50.0)], objectives, baseline)

    def loglik(value, high=None):
        return {"gsm8k_loglik": Measurement(value=value, low=value, high=high if high is not None else value)}

    assert dominated_at_best(frontier, loglik(-1.5), {"latency_ms": 70.0})  # worse, and slower even at 52.5 ms
    assert not dominated_at_best(frontier, loglik(-1.5), {"latency_ms": 60.0})  # at best 45 ms: may be faster
    assert not dominated_at_best(frontier, loglik(-1.5, high=-1.0), {"latency_ms": 60.0})  # may be more accurate
    assert not dominated_at_best(frontier, loglik(-1.5), {})  # latency unknown: nothing can be said
