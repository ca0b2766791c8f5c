"""End-to-end runs of `acf compress` on a tiny random Llama built in the test."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import acf
from acf.store import RunLock


def run(tiny, data, run_dir, **kw):
    # the spine's behaviour, on the two methods that need no optional backend
    options = {"evaluator_options": {"gsm8k": {"data_path": str(data), "limit": 12}}, "methods": ["rtn", "magnitude"]}
    options.update(kw)
    return acf.compress(str(tiny), "gsm8k", run_dir=run_dir, **{"episodes": 6, "seed": 0, **options})


def frontier_signature(result):
    return [(c.id, c.strategy.describe(), {k: round(v.value, 9) for k, v in c.measurements.items()
                                           if k in ("gsm8k_loglik", "size_mb")}) for c in result.frontier.candidates]


def test_compress_end_to_end(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    result = run(acf_tiny_model, gsm8k_file, tmp_path / "run")
    d = tmp_path / "run"
    for name in ("run_config.json", "model_spec.json", "baseline.json", "pareto_frontier.json", "final_results.json"):
        json.loads((d / name).read_text())
    episodes = sorted(p.name for p in d.glob("episode_*"))
    assert episodes == [f"episode_{i:03d}" for i in range(1, 7)]
    for e in episodes:
        assert {"strategy.json", "result.json"} <= {p.name for p in (d / e).iterdir()}
    ok = [c for c in result.candidates if c.status == "ok"]
    assert len(ok) == 6
    # real, differing metrics: every candidate measured, not all the same
    assert len({round(c.value("size_mb"), 6) for c in ok}) > 1
    assert len({round(c.value("gsm8k_loglik"), 6) for c in ok}) > 1
    for c in ok:
        m = c.measurements["gsm8k_loglik"]
        assert m.n == 12 and m.low <= m.value <= m.high
        assert {"latency_ms", "decode_tps", "peak_memory_mb", "bits_per_weight"} <= set(c.measurements)
        assert c.value("size_mb") < result.baseline["size_mb"].value
    assert result.frontier.candidates and result.recommended is not None
    final = json.loads((d / "final_results.json").read_text())
    assert final["recommended"]["id"] == result.recommended.id
    assert final["episodes"] == {"ok": 6, "failed": 0, "skipped": 0}
    code, out, err = acf_cli(["frontier", "show", str(d)])
    assert code == 0, err
    assert result.recommended.id in out and "hypervolume" in out
    code, out, _ = acf_cli(["frontier", "show", str(d), "--json"])
    assert [c["id"] for c in json.loads(out)["candidates"]] == [c.id for c in result.frontier.candidates]


def test_default_methods_run_and_failures_carry_their_reason(acf_tiny_model, gsm8k_file, tmp_path):
    result = acf.compress(str(acf_tiny_model), "gsm8k", episodes=6, seed=0, run_dir=tmp_path / "run",
                          evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 8}})
    assert len(result.candidates) == 6
    assert sum(c.status == "ok" for c in result.candidates) >= 4
    assert all(c.reason for c in result.candidates if c.status != "ok")
    assert len({c.strategy.pipeline for c in result.candidates}) >= 4  # the searcher explores many families


def test_same_seed_same_frontier_and_rerun_is_served_from_cache(acf_tiny_model, gsm8k_file, tmp_path, monkeypatch):
    first = run(acf_tiny_model, gsm8k_file, tmp_path / "a")
    assert not any(c.cached for c in first.candidates)

    def no_loading(*a, **k):
        raise AssertionError("a fully cached re-run must not load the model")

    monkeypatch.setattr("acf.coordinator.load_model", no_loading)
    second = run(acf_tiny_model, gsm8k_file, tmp_path / "b")
    assert all(c.cached for c in second.candidates)
    assert frontier_signature(first) == frontier_signature(second)


def test_constraints_pick_feasible_or_name_the_blocker(acf_tiny_model, gsm8k_file, tmp_path):
    result = run(acf_tiny_model, gsm8k_file, tmp_path / "a", constraints=["size_mb<=0.5*baseline"])
    pick = result.recommended
    assert pick.feasible and pick.value("size_mb") <= 0.5 * result.baseline["size_mb"].value
    result = run(acf_tiny_model, gsm8k_file, tmp_path / "b", constraints=["size_mb<=0.001"])
    assert result.frontier.blocking_constraint == "size_mb<=0.001"
    assert not result.recommended.feasible


def test_failing_and_infeasible_steps_are_recorded_and_the_run_goes_on(acf_tiny_model, gsm8k_file, tmp_path, my_plugin):
    result = run(acf_tiny_model, gsm8k_file, tmp_path / "run", methods=["explode", "huge", "rtn"], max_steps=1,
                 searcher="grid", episodes=5)
    by_method = {c.strategy.steps[0].method: c for c in result.candidates}
    assert by_method["explode"].status == "failed"
    assert "boom: this step always fails" in by_method["explode"].reason
    assert (tmp_path / "run" / f"episode_{by_method['explode'].episode:03d}" / "error.txt").is_file()
    assert by_method["huge"].status == "skipped" and "pre-flight" in by_method["huge"].reason
    assert by_method["rtn"].status == "ok"
    assert len(result.candidates) == 5
    assert {c.id for c in result.frontier.candidates} <= {c.id for c in result.candidates if c.status == "ok"}


def test_resume_after_crash_gives_the_same_frontier(acf_tiny_model, gsm8k_file, tmp_path):
    full = run(acf_tiny_model, gsm8k_file, tmp_path / "full")
    crashed = tmp_path / "crashed"
    shutil.copytree(tmp_path / "full", crashed)
    # a crash during episode 4: its strategy was written, its result was not; nothing after it exists
    (crashed / "episode_004" / "result.json").unlink()
    for name in ("episode_005", "episode_006"):
        shutil.rmtree(crashed / name)
    (crashed / "final_results.json").unlink()
    resumed = acf.resume(crashed)
    assert frontier_signature(resumed) == frontier_signature(full)
    assert [c.id for c in resumed.candidates] == [f"ep{i:03d}" for i in range(1, 7)]


def test_resume_refuses_different_settings_and_missing_runs(acf_tiny_model, gsm8k_file, tmp_path):
    run(acf_tiny_model, gsm8k_file, tmp_path / "run", episodes=2)
    with pytest.raises(acf.AcfError, match="different settings \\(seed\\)"):
        run(acf_tiny_model, gsm8k_file, tmp_path / "run", episodes=2, seed=1, resume=True)
    with pytest.raises(acf.AcfError, match="already holds a run"):
        run(acf_tiny_model, gsm8k_file, tmp_path / "run", episodes=2)
    with pytest.raises(acf.AcfError, match="nothing to resume"):
        acf.resume(tmp_path / "nope")


def test_a_locked_run_directory_is_refused(acf_tiny_model, gsm8k_file, tmp_path):
    (tmp_path / "run").mkdir()
    lock = RunLock(tmp_path / "run")
    lock.acquire()
    try:
        with pytest.raises(acf.AcfError, match="in use by pid"):
            run(acf_tiny_model, gsm8k_file, tmp_path / "run", episodes=1)
    finally:
        lock.release()


def test_sigkill_mid_episode_then_resume(acf_tiny_model, gsm8k_file, tmp_path, plugin_site):
    """A real `acf compress` process is killed with SIGKILL during episode 3's evaluation, then resumed."""
    args = [str(acf_tiny_model), "-d", "gsm8k", "--data-path", str(gsm8k_file), "--limit", "12", "-n", "5", "-m", "rtn", "-m", "magnitude",
            "--seed", "0", "-e", "size", "-e", "slow", "--eval-option", "slow.seconds=0.4", "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")]))}
    reference = subprocess.run([sys.executable, "-m", "acf", "compress", *args, "--run-dir", str(tmp_path / "ref")],
                               env={**env, "ACF_CACHE_DIR": str(tmp_path / "cache-ref")}, capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stderr
    env["ACF_CACHE_DIR"] = str(tmp_path / "cache-killed")
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "acf", "compress", *args, "--run-dir", str(run_dir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (run_dir / "episode_003" / "strategy.json").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before episode 3 started"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "final_results.json").exists()
    finished = json.loads((run_dir / "episode_002" / "result.json").read_text())
    resumed = subprocess.run([sys.executable, "-m", "acf", "resume", str(run_dir), "--quiet"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "episode_002" / "result.json").read_text()) == finished  # kept, not re-run

    def signature(d):
        f = json.loads((d / "pareto_frontier.json").read_text())
        return [(c["id"], c["strategy"], {k: c["measurements"][k]["value"] for k in ("gsm8k_loglik", "size_mb")})
                for c in f["candidates"]]

    assert signature(run_dir) == signature(tmp_path / "ref")


def test_an_episode_past_its_timeout_fails_and_the_run_goes_on(acf_tiny_model, gsm8k_file, tmp_path, my_plugin):
    started = time.time()
    result = run(acf_tiny_model, gsm8k_file, tmp_path / "run", methods=["nap", "rtn"], max_steps=1, searcher="grid",
                 episodes=2, episode_timeout_s=1.0, evaluators=["size"])
    by_method = {c.strategy.steps[0].method: c for c in result.candidates}
    assert by_method["nap"].status == "failed" and by_method["nap"].reason == "EpisodeTimeout: timed out after 1 s"
    assert by_method["rtn"].status == "ok"
    assert time.time() - started < 5  # the 5-second nap was cut short
    with pytest.raises(acf.AcfError, match="--timeout must be positive"):
        run(acf_tiny_model, gsm8k_file, tmp_path / "other", episode_timeout_s=0)


def test_resume_recovers_from_a_truncated_result(acf_tiny_model, gsm8k_file, tmp_path):
    full = run(acf_tiny_model, gsm8k_file, tmp_path / "run")
    result = tmp_path / "run" / "episode_003" / "result.json"
    result.write_text(result.read_text()[:40])  # a torn write
    (tmp_path / "run" / "final_results.json").unlink()
    with pytest.warns(UserWarning, match=r"episode_003/result.json is corrupt or truncated.*episode 3 and later"):
        resumed = acf.resume(tmp_path / "run")
    assert frontier_signature(resumed) == frontier_signature(full)
    assert json.loads(result.read_text())["id"] == "ep003"  # rewritten whole
