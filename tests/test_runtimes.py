"""Runtimes: each candidate's cost says which runtime measured it, in which format, and whether that is simulated."""

import types

import pytest

import acf
from acf.errors import AcfError
from acf.models.formats import candidate_format
from acf.models.loading import load_model
from acf.rundir.cache import EvalCache
from acf.session.session import Session
from acf.testing import registered_plugin, run_cli
from acf.types.strategy import Step, Strategy
from acf_plugins_builtin.runtimes.hf import HFDeployment

RTN4 = Strategy(steps=[Step(method="rtn", params={"bits": 4, "group_size": 32})])
SPARSE = Strategy(steps=[Step(method="magnitude", params={"sparsity": 0.5})])


def session_for(model, data, tmp_path, **kw):
    return Session(
        str(model),
        dataset="gsm8k",
        evaluators=["latency", "memory", "throughput", "energy"],
        methods=["rtn", "magnitude", "layer_drop"],
        cache=EvalCache(tmp_path / "cache"),
        evaluator_options={
            "gsm8k": {"data_path": str(data), "limit": 2},
            "latency": {"repeats": 2, "new_tokens": 2, "prompt_len": 8},
            "throughput": {"batch_sizes": "1,2", "repeats": 1, "new_tokens": 2},
            "energy": {"repeats": 1, "new_tokens": 2, "prompt_len": 8},
        },
        **kw,
    )


COSTS = ("latency_ms", "decode_tps", "peak_memory_mb", "throughput_tps", "energy_j_per_token")


def test_formats_name_what_the_steps_recorded_and_what_the_weights_hold(acf_tiny_model, gsm8k_file, tmp_path):
    session = session_for(acf_tiny_model, gsm8k_file, tmp_path)
    assert candidate_format(load_model(acf_tiny_model), {}) == "dense-float32"
    model = session.apply(session.validate(RTN4))
    assert candidate_format(model, session.ctx.tensor_formats) == "pack-quantized-w4"
    model = session.apply(session.validate(SPARSE))
    assert candidate_format(model, session.ctx.tensor_formats) == "dense-float32"  # masked weights are stored dense


def test_hf_measures_dense_and_masked_natively_and_marks_simulated_quantization(acf_tiny_model, gsm8k_file, tmp_path):
    session = session_for(acf_tiny_model, gsm8k_file, tmp_path)
    base, _, _ = session.measure(None)
    rtn, _, _ = session.measure(session.validate(RTN4))
    sparse, _, _ = session.measure(session.validate(SPARSE))
    for name in COSTS:
        assert (base[name].runtime, base[name].format, base[name].simulated) == ("hf", "dense-float32", False)
        assert (rtn[name].runtime, rtn[name].format, rtn[name].simulated) == ("hf", "pack-quantized-w4", True)
        # a masked model is deployed as the dense model it is stored as: its cost is that model's, measured natively
        assert not sparse[name].simulated and sparse[name].format == "dense-float32"
        assert "(simulated on hf: pack-quantized-w4)" in rtn[name].caveats()
        assert "simulated" not in base[name].caveats()
    assert not rtn["gsm8k_loglik"].simulated and rtn["gsm8k_loglik"].runtime is None  # accuracy is not a cost


class NativeW4(acf.Runtime):
    """Runs 4-bit packed candidates (here: times them in process, as a stand-in for a kernel runtime)."""

    name = "w4-kernels"
    native_formats = ("pack-quantized-w4",)
    priority = 10
    deployed = []

    def deploy(self, model, ctx, fmt):
        deployment = HFDeployment(model, fmt, simulated=False)
        deployment.runtime = self.name
        closed = deployment.close
        deployment.close = lambda: (self.deployed.append(fmt), closed())
        return deployment


class Missing(acf.Runtime):
    name = "needs-extra"
    native_formats = ("pack-quantized-w4",)
    priority = 20

    def unavailable(self, device):
        return "needs the 'nothing' package: pip install 'acf[nothing]'"


def runtime_plugin():
    module = types.SimpleNamespace()

    @acf.hookimpl
    def register_runtimes(register):
        register(NativeW4)
        register(Missing)

    module.register_runtimes = register_runtimes
    return module


def test_auto_picks_an_available_runtime_native_to_each_candidates_format(acf_tiny_model, gsm8k_file, tmp_path):
    NativeW4.deployed.clear()
    with registered_plugin(runtime_plugin(), name="runtimes-test"):
        session = session_for(acf_tiny_model, gsm8k_file, tmp_path)
        rtn, _, _ = session.measure(session.validate(RTN4))
        base, _, _ = session.measure(None)
        assert "needs-extra" not in session.runtimes.available  # unavailable here: never picked by auto
    assert all(rtn[n].runtime == "w4-kernels" and not rtn[n].simulated for n in COSTS)
    assert all(base[n].runtime == "hf" for n in COSTS)  # dense: hf runs it natively
    assert NativeW4.deployed == ["pack-quantized-w4"]  # deployed once per candidate, closed after measuring


def test_the_runtime_is_part_of_the_cache_key_of_timings(acf_tiny_model, gsm8k_file, tmp_path):
    session = session_for(acf_tiny_model, gsm8k_file, tmp_path)
    identity = session.identity(None)
    latency = next(ev for ev in session.evaluators if ev.name == "latency")
    with registered_plugin(runtime_plugin(), name="runtimes-test"):
        other = session_for(acf_tiny_model, gsm8k_file, tmp_path)
    assert session.cache_key(identity, latency, "full") != other.cache_key(identity, latency, "full")


def test_a_named_runtime_that_is_unknown_or_cannot_run_here_is_a_one_line_error(acf_tiny_model, gsm8k_file, tmp_path):
    with pytest.raises(acf.UnknownPluginError, match="unknown runtime 'nope'"):
        session_for(acf_tiny_model, gsm8k_file, tmp_path, runtime="nope")
    with registered_plugin(runtime_plugin(), name="runtimes-test"):
        with pytest.raises(AcfError, match=r"runtime needs-extra cannot measure here: .*acf\[nothing\]"):
            session_for(acf_tiny_model, gsm8k_file, tmp_path, runtime="needs-extra")
        code, out, err = run_cli(
            [
                "eval",
                str(acf_tiny_model),
                "--evaluators",
                "gsm8k,latency",
                "--data-path",
                str(gsm8k_file),
                "--runtime",
                "needs-extra",
            ]
        )
    assert code == 2 and "Traceback" not in err and "acf[nothing]" in err and len(err.strip().splitlines()) <= 2


def test_frontier_show_marks_simulated_costs_and_says_why(acf_tiny_model, gsm8k_file, tmp_path):
    run = tmp_path / "run"
    code, _, err = run_cli(
        [
            "compress",
            str(acf_tiny_model),
            "--dataset",
            "gsm8k",
            "--data-path",
            str(gsm8k_file),
            "--limit",
            "2",
            "--episodes",
            "2",
            "--method",
            "rtn",
            "--objective",
            "gsm8k_loglik",
            "--objective",
            "latency_ms",
            "--eval-option",
            "latency.repeats=2",
            "--eval-option",
            "latency.new_tokens=2",
            "--run-dir",
            str(run),
            "--quiet",
        ]
    )
    assert code == 0, err
    # wide enough that no cell wraps: a wrapped cell interleaves the table's borders with its words
    code, out, _ = run_cli(["frontier", "show", str(run)], env={"COLUMNS": "300"})
    flat = " ".join(out.split())
    assert code == 0 and "(simulated on" in flat and "hf: pack-quantized-w4)" in flat
    assert "simulated: the cost of 2 candidate(s) was measured on hf, which does not run pack-quantized-w4" in flat


def test_the_llama_cpp_runtime_without_its_extra_names_the_extra(acf_tiny_model, gsm8k_file, monkeypatch):
    from acf_plugins_builtin.shared import llamacpp_process

    monkeypatch.setattr(llamacpp_process, "find_spec", lambda name: None)
    code, out, err = run_cli(
        [
            "eval",
            str(acf_tiny_model),
            "--evaluators",
            "gsm8k,latency",
            "--data-path",
            str(gsm8k_file),
            "--runtime",
            "llama.cpp",
        ]
    )
    assert code == 2 and "Traceback" not in err
    assert "runtime llama.cpp cannot measure here" in err and "pip install 'acf[llamacpp]'" in err
