"""The llama.cpp runtime and the `gguf` method: a GGUF candidate's accuracy and cost are both llama.cpp's."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="the llama.cpp runtime needs acf[llamacpp] (CI installs it)")

from acf.errors import AcfError  # noqa: E402
from acf.models.loading import load_model, load_tokenizer  # noqa: E402
from acf.rundir.cache import EvalCache  # noqa: E402
from acf.session.session import Session  # noqa: E402
from acf.types.strategy import Step, Strategy  # noqa: E402
from acf_plugins_builtin.shared.gguf_file import read_gguf_weights, write_gguf  # noqa: E402
from acf_plugins_builtin.shared.llamacpp_process import llama_cpp_process, quantize_gguf  # noqa: E402
from acf_plugins_builtin.shared.process import RuntimeProcess  # noqa: E402


def hf_logprobs(model, ids):
    import torch

    with torch.no_grad():
        logits = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    return [float(logits[i, ids[i + 1]]) for i in range(len(ids) - 1)]


def test_a_model_written_as_gguf_gives_llama_cpp_the_same_log_likelihoods(acf_tiny_model, tmp_path):
    model, tok = load_model(acf_tiny_model), load_tokenizer(acf_tiny_model)
    path = write_gguf(model, acf_tiny_model, tmp_path / "tiny.gguf")
    ids = tok("Tom has 3 apples and buys 4 more. How many apples?", add_special_tokens=True)["input_ids"]
    process = llama_cpp_process()
    try:
        process.request("load", path=str(path), n_ctx=256, threads=1, logits_all=True)
        theirs = process.request("score", tokens=ids)["logprobs"]
    finally:
        process.close()
    assert theirs == pytest.approx(hf_logprobs(model, ids), abs=2e-3)  # llama.cpp's key/value cache is fp16


def test_reading_a_quantized_file_back_gives_its_dequantized_weights(acf_tiny_model, tmp_path):
    model = load_model(acf_tiny_model)
    full = write_gguf(model, acf_tiny_model, tmp_path / "tiny-F32.gguf")
    quantized = quantize_gguf(full, tmp_path / "tiny-Q8_0.gguf", "Q8_0")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    read_gguf_weights(model, quantized)
    changed = [k for k, v in model.state_dict().items() if not (v == before[k]).all()]
    assert changed and all((model.state_dict()[k] - before[k]).abs().max() < 0.05 for k in changed)
    assert quantized.stat().st_size < full.stat().st_size / 2


def test_a_gguf_candidate_is_scored_and_timed_by_llama_cpp(acf_tiny_model, gsm8k_file, tmp_path):
    session = Session(
        str(acf_tiny_model),
        dataset="gsm8k",
        evaluators=["latency", "memory", "size"],
        methods=["gguf", "rtn"],
        cache=EvalCache(tmp_path / "cache"),
        evaluator_options={
            "gsm8k": {"data_path": str(gsm8k_file), "limit": 2},
            "latency": {"repeats": 2, "new_tokens": 2, "prompt_len": 8},
        },
    )
    strategy = session.validate(Strategy(steps=[Step(method="gguf", params={"type": "Q8_0"})]))
    measured, _, steps = session.measure(strategy)
    for name in ("latency_ms", "decode_tps", "peak_memory_mb"):
        m = measured[name]
        assert (m.runtime, m.format, m.simulated) == ("llama.cpp", "gguf-Q8_0", False)
    assert "scored on llama.cpp (gguf-Q8_0)" in measured["gsm8k_loglik"].notes
    assert steps[0]["gguf_type"] == "Q8_0" and steps[0]["file_mb"] > 0
    # the same candidate scored in transformers (its dequantized weights) agrees with llama.cpp's logits
    plain = session.apply(strategy)
    from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K

    ev = GSM8K(data_path=str(gsm8k_file), limit=2)
    ev.prepare(session.ctx)
    session.ctx.deploy = None  # no runtime: scored in process
    in_process = ev.evaluate(plain, session.ctx, "loglik")["gsm8k_loglik"]
    assert in_process.value == pytest.approx(measured["gsm8k_loglik"].value, abs=0.02)


def test_llama_cpp_measures_a_dense_candidate_natively_when_named(acf_tiny_model, gsm8k_file, tmp_path):
    session = Session(
        str(acf_tiny_model),
        dataset="gsm8k",
        evaluators=["latency"],
        methods=["rtn"],
        runtime="llama.cpp",
        cache=EvalCache(tmp_path / "cache"),
        evaluator_options={
            "gsm8k": {"data_path": str(gsm8k_file), "limit": 2},
            "latency": {"repeats": 2, "new_tokens": 2, "prompt_len": 8},
        },
    )
    base, _, _ = session.measure(None)
    rtn, _, _ = session.measure(
        session.validate(Strategy(steps=[Step(method="rtn", params={"bits": 4, "group_size": 32, "symmetric": True})]))
    )
    assert (base["latency_ms"].runtime, base["latency_ms"].simulated) == ("llama.cpp", False)
    assert (rtn["latency_ms"].runtime, rtn["latency_ms"].simulated) == ("llama.cpp", True)  # F32 file, not W4


def test_a_runtime_process_that_hangs_or_dies_is_an_error_with_the_reason():
    hangs = RuntimeProcess(0.5, [sys.executable, "-c", "import time; time.sleep(30)"], "llama.cpp runtime")
    with pytest.raises(RuntimeError, match="did not answer 'load' within 0 s|did not answer 'load' within 1 s"):
        hangs.request("load", path="x", n_ctx=8, threads=1)
    dies = RuntimeProcess(
        60,
        [sys.executable, "-c", "import sys; sys.stdin.readline(); print('boom', file=sys.stderr); sys.exit(3)"],
        "llama.cpp runtime",
    )
    with pytest.raises(RuntimeError, match=r"died during 'load' \(exit code 3\): boom"):
        dies.request("load", path="x", n_ctx=8, threads=1)
    broken = llama_cpp_process()
    try:
        with pytest.raises(RuntimeError, match="failed in 'load'"):
            broken.request("load", path=str(Path("/nonexistent.gguf")), n_ctx=8, threads=1)
    finally:
        broken.close()


def test_an_unknown_gguf_type_is_refused_by_the_strategy_check(acf_tiny_model, gsm8k_file, tmp_path):
    session = Session(
        str(acf_tiny_model),
        dataset="gsm8k",
        methods=["gguf"],
        cache=EvalCache(tmp_path / "cache"),
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file)}},
    )
    with pytest.raises(AcfError, match="Q4_K_M"):
        session.validate(Strategy(steps=[Step(method="gguf", params={"type": "Q9_X"})]))


def test_llama_cpp_tokenizes_the_written_vocabulary_as_transformers_does(acf_tiny_model, tmp_path):
    from llama_cpp import Llama

    tok = load_tokenizer(acf_tiny_model)
    path = write_gguf(load_model(acf_tiny_model), acf_tiny_model, tmp_path / "tiny.gguf")
    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    for text in ("Tom has 3 apples and buys 45 more.", "How many apples does he have?\n#### 48"):
        assert (
            llm.tokenize(text.encode(), add_bos=False, special=False)
            == tok(text, add_special_tokens=False)["input_ids"]
        )


def gguf_run(acf_tiny_model, gsm8k_file, run_dir):
    import acf

    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=1,
        run_dir=run_dir,
        methods=["gguf"],
        evaluators=["size"],
        strategies=[{"steps": [{"method": "gguf", "params": {"type": "Q8_0"}}]}],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 4}},
    )
    (candidate,) = result.candidates
    assert candidate.status == "ok", candidate.reason
    return candidate


def test_a_gguf_candidate_exports_as_the_file_that_was_measured(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    import json
    import subprocess

    candidate = gguf_run(acf_tiny_model, gsm8k_file, tmp_path / "run")
    out = tmp_path / "out"
    code, stdout, err = acf_cli(["export", str(tmp_path / "run"), "--candidate", candidate.id, "--out", str(out), "-q"])
    assert code == 0, err
    (gguf,) = out.glob("*.gguf")
    assert gguf.stat().st_size / 1e6 == pytest.approx(candidate.measurements["size_mb"].value, rel=0.01)
    assert "reloaded on llama.cpp" in stdout
    trip = json.loads((out / "acf_export.json").read_text())["round_trip"]
    assert trip["runtime"] == "llama.cpp" and trip["items"] >= 4 and trip["max_difference"] <= trip["tolerance"]
    card = (out / "README.md").read_text()
    assert "llama_cpp.server --model" in card and "vs uncompressed on its runtime" in card
    assert out.stat().st_mode & 0o044 == 0o044  # readable by others, as a folder mkdir made (umask 022)
    # it loads and generates in llama-cpp-python, in a fresh process, with the tokenizer it carries
    script = (
        "import sys; from llama_cpp import Llama; llm = Llama(model_path=sys.argv[1], n_ctx=64, verbose=False); "
        "print(len(llm.tokenize(b'Tom has 3 apples')), llm('Tom has', max_tokens=4, temperature=0)['usage'])"
    )
    ran = subprocess.run([sys.executable, "-c", script, str(gguf)], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0 and "'completion_tokens'" in ran.stdout, ran.stderr
    # --format hf: a Hugging Face folder (the file's weights, dequantized), checked on hf
    code, stdout, err = acf_cli(
        ["export", str(tmp_path / "run"), "--candidate", candidate.id, "--out", str(tmp_path / "hf"), "--format", "hf"]
    )
    assert code == 0 and "reloaded on hf" in stdout and (tmp_path / "hf" / "config.json").is_file(), err


def test_an_export_that_does_not_round_trip_leaves_nothing(acf_tiny_model, gsm8k_file, tmp_path, acf_cli, monkeypatch):
    import shutil

    from acf.models import export

    candidate = gguf_run(acf_tiny_model, gsm8k_file, tmp_path / "run")

    def corrupt_copy(source, target):  # the file's second half overwritten, as a broken disk or transfer would
        shutil.copyfile(source, target)
        data = bytearray(Path(target).read_bytes())
        half = len(data) // 2
        data[half:] = b"\xff" * (len(data) - half)
        Path(target).write_bytes(bytes(data))

    monkeypatch.setattr(export.shutil, "copy2", corrupt_copy)
    out = tmp_path / "out"
    code, _, err = acf_cli(["export", str(tmp_path / "run"), "--candidate", candidate.id, "--out", str(out), "-q"])
    assert code == 2 and ("scores differently" in err or "does not load" in err), err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_a_run_keeps_a_reference_per_runtime_and_shows_both_ratios(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    import json

    import acf

    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=1,
        run_dir=tmp_path / "run",
        methods=["gguf"],
        evaluators=["latency", "size"],
        reward="latency",
        strategies=[{"steps": [{"method": "gguf", "params": {"type": "Q8_0"}}]}],
        evaluator_options={
            "gsm8k": {"data_path": str(gsm8k_file), "limit": 2},
            "latency": {"repeats": 2, "new_tokens": 2, "prompt_len": 8},
        },
    )
    (candidate,) = result.candidates
    assert candidate.status == "ok" and candidate.measurements["latency_ms"].runtime == "llama.cpp"
    stored = json.loads((tmp_path / "run" / "baseline.json").read_text())
    by_runtime = stored["by_runtime"]
    assert set(by_runtime) == {"hf", "llama.cpp"}
    assert by_runtime["hf"]["latency_ms"] == stored["latency_ms"]  # the baseline is its own runtime's reference
    reference = by_runtime["llama.cpp"]["latency_ms"]
    assert (reference["runtime"], reference["format"], reference["simulated"]) == ("llama.cpp", "dense-float32", False)
    # the reward's gains stay relative to the run's baseline
    assert result.frontier.baseline["latency_ms"].runtime == "hf"
    code, out, err = acf_cli(["frontier", "show", str(tmp_path / "run")], env={"COLUMNS": "250"})
    flat = " ".join(out.split())
    assert code == 0 and "baseline on hf" in flat and "uncompressed on llama.cpp" in flat, out + err


def test_an_importance_matrix_weighs_the_quantization_error_where_the_inputs_are(tmp_path, gsm8k_file, monkeypatch):
    """Q4_K_M with the importance matrix (mean squared input per column, collected in transformers and handed to
    llama.cpp's quantizer) has less activation-weighted error than without; the matrix is computed once."""
    import numpy as np

    from acf.testing import build_tiny_model, load_model, model_context
    from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
    from acf_plugins_builtin.methods.gguf import GGUFQuant
    from acf_plugins_builtin.shared.gguf_file import gguf_tensor_names

    monkeypatch.setenv("ACF_CACHE_DIR", str(tmp_path / "cache"))
    folder = build_tiny_model(tmp_path / "tiny", hidden=256, intermediate=512)  # rows K-quants take (256)
    original = load_model(folder)
    weighted = {}
    for flag in (True, False):
        model = load_model(folder)
        ctx = model_context(folder, dataset=GSM8K(data_path=str(gsm8k_file)))
        ctx.records.begin_step("gguf")
        model = GGUFQuant().apply(model, {"type": "Q4_K_M", "imatrix": flag}, ctx)
        assert ctx.records.steps[-1]["imatrix"] is flag
        (matrix,) = (tmp_path / "cache" / "imatrix").glob("*.npz")
        importance = np.load(matrix)
        names = gguf_tensor_names(original)
        error = 0.0
        for name, param in model.named_parameters():
            if names.get(name) in importance.files:
                diff = (param.detach() - original.state_dict()[name]).numpy()
                error += float((diff**2 * importance[names[name]]).sum())
        weighted[flag] = error
    assert weighted[True] < weighted[False]
