"""Session: built from plain inputs, applies strategies, measures through the cache, carries what steps record."""

import json

import pytest

import acf
from acf.errors import AcfError
from acf.rundir.cache import EvalCache
from acf.session.session import Session
from acf.types.strategy import Step, Strategy

DROP = Strategy(steps=[Step(method="layer_drop", params={"layers": 1, "samples": 16})])


@pytest.fixture
def session(acf_tiny_model, gsm8k_file, tmp_path):
    return Session(
        str(acf_tiny_model),
        dataset="gsm8k",
        evaluators=["size", "latency"],
        methods=["rtn", "layer_drop"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 4}},
        cache=EvalCache(tmp_path / "cache"),
    )


def test_a_session_applies_and_measures_and_returns_what_the_steps_recorded(session):
    strategy = session.validate(DROP)
    measurements, cached, steps = session.measure(strategy)
    assert not cached and {"gsm8k_loglik", "size_mb", "latency_ms"} <= set(measurements)
    assert [s["method"] for s in steps] == ["layer_drop"] and len(steps[0]["dropped_layers"]) == 1
    again, cached, steps_again = session.measure(strategy)
    assert cached and steps_again == steps  # the records come back from the cache with the measurements
    assert again["size_mb"].value == measurements["size_mb"].value
    baseline, _, base_steps = session.measure(None)
    assert base_steps == [] and baseline["size_mb"].value > measurements["size_mb"].value


def test_size_counts_the_tensor_formats_the_steps_recorded_through_the_context(session):
    rtn = session.validate(Strategy(steps=[Step(method="rtn", params={"bits": 4, "group_size": 32})]))
    model = session.apply(rtn)
    assert session.ctx.tensor_formats and all(f.bits == 4 for f in session.ctx.tensor_formats.values())
    assert not any(k.startswith("_acf") for k in vars(model))
    measured, _, _ = session.measure(rtn)
    assert measured["bits_per_weight"].value < 16


def test_deterministic_evaluators_are_reused_across_hardware_timings_are_not(session):
    size, latency = (next(ev for ev in session.evaluators if ev.name == n) for n in ("size", "latency"))
    assert size.deterministic and not latency.deterministic
    identity = session.identity(None)
    before = {ev.name: session.cache_key(identity, ev, "full") for ev in (size, latency)}
    session.__dict__["hardware"] = "cpu:another processor:64"
    after = {ev.name: session.cache_key(identity, ev, "full") for ev in (size, latency)}
    assert before["size"] == after["size"] and before["latency"] != after["latency"]
    session.dtype = "bfloat16"
    assert session.cache_key(session.identity(None), size, "full") != before["size"]


def test_a_session_refuses_bad_input_before_loading_the_model(acf_tiny_model, gsm8k_file):
    with pytest.raises(acf.UnknownPluginError, match="unknown dataset 'nope'"):
        Session(str(acf_tiny_model), dataset="nope")
    with pytest.raises(AcfError, match="options given for evaluator"):
        Session(str(acf_tiny_model), dataset="gsm8k", evaluator_options={"latency": {"repeats": 3}})


def test_each_episode_result_carries_its_step_records(acf_tiny_model, gsm8k_file, tmp_path):
    acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=1,
        run_dir=tmp_path / "run",
        methods=["layer_drop"],
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 4}},
    )
    result = json.loads((tmp_path / "run" / "episode_001" / "result.json").read_text())
    assert result["status"] == "ok"
    assert result["steps"][0]["method"] == "layer_drop" and len(result["steps"][0]["dropped_layers"]) >= 1


def test_the_cache_key_changes_with_everything_that_changes_a_number(session, acf_tiny_model, tmp_path, monkeypatch):
    from acf.testing import write_gsm8k

    size = next(ev for ev in session.evaluators if ev.name == "size")
    rtn = session.validate(Strategy(steps=[Step(method="rtn", params={"bits": 4, "group_size": 32})]))

    def key(strategy=rtn, evaluator=size):
        return session.cache_key(session.identity(strategy), evaluator, "full")

    first, baseline = key(), key(None)
    assert key() == first  # stable
    session.device = "cuda"
    assert key() != first  # device type
    session.device = "cpu"
    size.version += ".1"
    assert key() != first  # the evaluator's scoring code
    del size.version
    monkeypatch.setattr("acf.session.keys.library_versions", lambda names: {n: "9.9" for n in names})
    assert key() != first and key(None) != baseline  # torch / transformers / the step's backend
    monkeypatch.undo()
    assert key() == first
    # another calibration text: the same strategy is another candidate; the baseline is the same model
    other = write_gsm8k(tmp_path / "other.jsonl", n=30)
    session2 = Session(
        str(acf_tiny_model),
        dataset="gsm8k",
        evaluators=["size"],
        methods=["rtn"],
        evaluator_options={"gsm8k": {"data_path": str(other), "limit": 4}},
        cache=session.cache,
    )
    size2 = next(ev for ev in session2.evaluators if ev.name == "size")
    assert session2.cache_key(session2.identity(rtn), size2, "full") != first
    assert session2.cache_key(session2.identity(None), size2, "full") == baseline


def test_non_finite_output_fails_the_measurement_and_is_never_cached(session, monkeypatch):
    import math

    from acf.errors import NonFiniteOutputError
    from acf.types.measurement import Measurement

    size = next(ev for ev in session.evaluators if ev.name == "size")
    monkeypatch.setattr(
        type(size),
        "evaluate",
        lambda self, model, ctx, fidelity: {
            "size_mb": Measurement.exact(math.nan),
            "bits_per_weight": Measurement.exact(4.0),
        },
    )
    rtn = session.validate(Strategy(steps=[Step(method="rtn", params={"bits": 4, "group_size": 32})]))
    with pytest.raises(NonFiniteOutputError, match="non-finite model output: the candidate gives size_mb = nan"):
        session.measure(rtn, evaluators=[size])
    assert session.cache.get(session.cache_key(session.identity(rtn), size, "full")) is None
