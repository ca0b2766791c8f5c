"""End-to-end runs of `acf compress` on a tiny random Llama built in the test."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import make_plugin_site

import acf
from acf.rundir.lock import RunLock


def run(tiny, data, run_dir, **kw):
    # the spine's behaviour, on the two methods that need no optional backend
    options = {"evaluator_options": {"gsm8k": {"data_path": str(data), "limit": 12}}, "methods": ["rtn", "magnitude"]}
    options.update(kw)
    return acf.compress(str(tiny), "gsm8k", run_dir=run_dir, **{"episodes": 6, "seed": 0, **options})


def frontier_signature(result):
    return [
        (
            c.id,
            c.strategy.describe(),
            {k: round(v.value, 9) for k, v in c.measurements.items() if k in ("gsm8k_loglik", "size_mb")},
        )
        for c in result.frontier.candidates
    ]


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
        quantized = any(step.method == "rtn" for step in c.strategy.steps)
        if quantized:  # packed on disk
            assert c.value("size_mb") < result.baseline["size_mb"].value / 2
        else:  # masked weights are stored dense: the checkpoint is the baseline's size
            assert c.value("size_mb") == pytest.approx(result.baseline["size_mb"].value, rel=1e-3)
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
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        episodes=6,
        seed=0,
        run_dir=tmp_path / "run",
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 8}},
    )
    assert len(result.candidates) == 6
    assert sum(c.status == "ok" for c in result.candidates) >= 4
    assert all(c.reason for c in result.candidates if c.status != "ok")
    assert len({c.strategy.pipeline for c in result.candidates}) >= 4  # the searcher explores many families


def test_same_seed_same_frontier_and_rerun_is_served_from_cache(acf_tiny_model, gsm8k_file, tmp_path, monkeypatch):
    first = run(acf_tiny_model, gsm8k_file, tmp_path / "a")
    assert not any(c.cached for c in first.candidates)

    def no_loading(*a, **k):
        raise AssertionError("a fully cached re-run must not load the model")

    monkeypatch.setattr("acf.session.session.load_model", no_loading)
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
    result = run(
        acf_tiny_model,
        gsm8k_file,
        tmp_path / "run",
        methods=["explode", "huge", "rtn"],
        max_steps=1,
        searcher="grid",
        episodes=5,
    )
    by_method = {c.strategy.steps[0].method: c for c in result.candidates}
    assert by_method["explode"].status == "failed"
    assert "boom: this step always fails" in by_method["explode"].reason
    assert (tmp_path / "run" / f"episode_{by_method['explode'].episode:03d}" / "error.txt").is_file()
    assert by_method["huge"].status == "skipped" and "pre-flight" in by_method["huge"].reason
    assert by_method["rtn"].status == "ok"
    assert len(result.candidates) == 5
    assert {c.id for c in result.frontier.candidates} <= {c.id for c in result.candidates if c.status == "ok"}


def test_raising_out_of_memory_and_hanging_steps_fail_their_episode_and_the_searcher_hears_it(
    acf_tiny_model, gsm8k_file, tmp_path, my_plugin
):
    my_plugin.Recorder.told.clear()
    result = run(
        acf_tiny_model,
        gsm8k_file,
        tmp_path / "run",
        methods=["explode", "hog", "nap", "rtn"],
        max_steps=1,
        searcher="recorder",
        episodes=4,
        episode_timeout_s=1.0,
        evaluators=["size"],
    )
    reasons = {c.strategy.steps[0].method: (c.status, c.reason) for c in result.candidates}
    assert reasons["explode"] == ("failed", "RuntimeError: boom: this step always fails")
    assert reasons["hog"][0] == "failed" and reasons["hog"][1].startswith("out of memory:")
    assert reasons["nap"] == ("failed", "EpisodeTimeout: timed out after 1 s")
    assert reasons["rtn"][0] == "ok"
    told = {point["pipeline"]: losses for point, losses, _ in my_plugin.Recorder.told}
    assert told["explode"] is None and told["hog"] is None and told["nap"] is None  # "bad" to the searcher
    assert told["rtn"] is not None and len(told["rtn"]) == 2


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


KILL_ARGS = [
    "-d",
    "gsm8k",
    "--limit",
    "12",
    "-n",
    "5",
    "-m",
    "rtn",
    "-m",
    "magnitude",
    "--seed",
    "0",
    "-e",
    "size",
    "-e",
    "slow",
    "--eval-option",
    "slow.seconds=0.2",
    "--quiet",
]


def acf_process(args, env, **kw):
    return subprocess.run(
        [sys.executable, "-m", "acf", *args], env=env, capture_output=True, text=True, timeout=300, **kw
    )


def frontier_of(run_dir):
    f = json.loads((run_dir / "pareto_frontier.json").read_text())
    return [
        (c["id"], c["strategy"], {k: c["measurements"][k]["value"] for k in ("gsm8k_loglik", "size_mb")})
        for c in f["candidates"]
    ]


@pytest.fixture(scope="module")
def uninterrupted(acf_tiny_model, gsm8k_file, tmp_path_factory):
    """The reference: the same `acf compress` process, never killed."""
    root = tmp_path_factory.mktemp("reference")
    env = {**os.environ, "PYTHONPATH": str(make_plugin_site(root / "site")), "ACF_CACHE_DIR": str(root / "cache")}
    proc = acf_process(
        ["compress", str(acf_tiny_model), "--data-path", str(gsm8k_file), *KILL_ARGS, "--run-dir", str(root / "run")],
        env,
    )
    assert proc.returncode == 0, proc.stderr
    return root / "run"


@pytest.mark.parametrize(
    "kill",
    [
        "apply:3",  # inside episode 3's compression step
        "evaluate:4",  # inside episode 3's size evaluation (the baseline is the 1st)
        "write:episode_003/result.json",  # the result is written to a temporary file, not yet renamed
        "write:pareto_frontier.json",  # the frontier after episode 1, half-written
        "random:0",
        "random:1",  # a real SIGKILL from outside at a seeded random moment
    ],
)
def test_sigkill_then_resume_finishes_with_the_same_frontier(kill, acf_tiny_model, gsm8k_file, tmp_path, uninterrupted):
    env = {
        **os.environ,
        "PYTHONPATH": str(make_plugin_site(tmp_path / "site")),
        "ACF_CACHE_DIR": str(tmp_path / "cache"),
    }
    run_dir = tmp_path / "killed"
    args = ["compress", str(acf_tiny_model), "--data-path", str(gsm8k_file), *KILL_ARGS, "--run-dir", str(run_dir)]
    if kill.startswith("random:"):
        proc = subprocess.Popen(
            [sys.executable, "-m", "acf", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while not (run_dir / "run_config.json").exists():  # started: torch imported, model being set up
            assert proc.poll() is None, "the run ended before it wrote its config"
            time.sleep(0.01)
        time.sleep(random.Random(int(kill[7:])).uniform(0.0, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    else:
        proc = acf_process(args, {**env, "MY_PLUGIN_KILL": kill})
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    finished = {p.parent.name: p.read_text() for p in sorted(run_dir.glob("episode_*/result.json"))}
    resumed = acf_process(["resume", str(run_dir), "--quiet"], env)
    assert resumed.returncode == 0, resumed.stderr
    for name, text in finished.items():  # every finished episode kept as it was, not re-run
        assert (run_dir / name / "result.json").read_text() == text
    assert frontier_of(run_dir) == frontier_of(uninterrupted)
    assert sorted(p.name for p in run_dir.glob("episode_*")) == [f"episode_{i:03d}" for i in range(1, 6)]
    assert not list(run_dir.glob("**/.*.tmp")), "the killed writer's temporary file is cleaned up"


def test_a_second_process_on_the_same_run_dir_is_refused(acf_tiny_model, gsm8k_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(make_plugin_site(tmp_path / "site"))}
    run_dir = tmp_path / "run"
    args = ["compress", str(acf_tiny_model), "--data-path", str(gsm8k_file), *KILL_ARGS, "--run-dir", str(run_dir)]
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "acf",
            *args[:-2],
            "-n",
            "3",
            "--eval-option",
            "slow.seconds=4",
            "--run-dir",
            str(run_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not (run_dir / "episode_001").exists():
        assert first.poll() is None, first.communicate()
        time.sleep(0.01)
    for second in (args, ["resume", str(run_dir)]):
        proc = acf_process(second, env)
        assert proc.returncode == 2
        assert proc.stderr.splitlines()[0].startswith("Error: ") and (
            "in use by pid" in proc.stderr or "already holds a run" in proc.stderr
        ), proc.stderr
        assert "Traceback" not in proc.stderr
    assert first.wait(timeout=300) == 0, first.communicate()
    final = json.loads((run_dir / "final_results.json").read_text())
    assert final["episodes"] == {"ok": 3, "failed": 0, "skipped": 0}
    for i in (1, 2, 3):
        json.loads((run_dir / f"episode_{i:03d}" / "result.json").read_text())


def test_ctrl_c_says_where_the_run_is_and_resume_finishes_it(acf_tiny_model, gsm8k_file, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(make_plugin_site(tmp_path / "site")),
        "ACF_CACHE_DIR": str(tmp_path / "cache"),
    }
    run_dir = tmp_path / "run"
    args = [
        "compress",
        str(acf_tiny_model),
        "--data-path",
        str(gsm8k_file),
        *KILL_ARGS,
        "-n",
        "3",
        "--eval-option",
        "slow.seconds=3",
        "--run-dir",
        str(run_dir),
    ]
    # Ctrl-C's default action, even where this test runs with SIGINT ignored (a background job of a shell)
    proc = subprocess.Popen(
        [sys.executable, "-m", "acf", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    while not (run_dir / "episode_001" / "result.json").exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert f"Interrupted; finished episodes are saved (continue with: acf resume {run_dir})" in stderr
    assert "Traceback" not in stderr
    first = (run_dir / "episode_001" / "result.json").read_text()
    resumed = acf_process(["resume", str(run_dir), "--quiet"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert (run_dir / "episode_001" / "result.json").read_text() == first  # kept, not run again
    assert json.loads((run_dir / "final_results.json").read_text())["episodes"]["ok"] == 3


def test_an_episode_past_its_timeout_fails_and_the_run_goes_on(acf_tiny_model, gsm8k_file, tmp_path, my_plugin):
    started = time.time()
    result = run(
        acf_tiny_model,
        gsm8k_file,
        tmp_path / "run",
        methods=["nap", "rtn"],
        max_steps=1,
        searcher="grid",
        episodes=2,
        episode_timeout_s=1.0,
        evaluators=["size"],
    )
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


def test_a_corrupt_frontier_is_named_and_resume_rebuilds_it(acf_tiny_model, gsm8k_file, tmp_path, acf_cli):
    full = run(acf_tiny_model, gsm8k_file, tmp_path / "run", episodes=3)
    frontier = tmp_path / "run" / "pareto_frontier.json"
    frontier.write_text('{"objectives": [')
    code, out, err = acf_cli(["frontier", "show", str(tmp_path / "run")])
    assert code == 2 and err.startswith(f"Error: {frontier} is corrupt or truncated"), err
    resumed = acf.resume(tmp_path / "run")
    assert frontier_signature(resumed) == frontier_signature(full)
    assert json.loads(frontier.read_text())["hypervolume"] == full.frontier.hypervolume


def test_promotion_rescores_promising_candidates_at_full_fidelity(acf_tiny_model, tmp_path):
    from acf.search.promotion import tied_ranking
    from acf.types.measurement import Measurement
    from acf.types.objectives import Metric

    data = tmp_path / "csqa.jsonl"
    row = {
        "question": "Where is milk kept?",
        "choices": {"label": list("ABCDE"), "text": ["fridge", "oven", "desk", "car", "sun"]},
        "answerKey": "A",
    }
    data.write_text("".join(json.dumps(row) + "\n" for _ in range(12)))
    result = acf.compress(
        str(acf_tiny_model),
        "commonsenseqa",
        run_dir=tmp_path / "run",
        episodes=4,
        methods=["rtn", "magnitude"],
        evaluators=["size"],
        promote=2,
        evaluator_options={"commonsenseqa": {"data_path": str(data), "subset": 3}},
    )
    final = json.loads((tmp_path / "run" / "final_results.json").read_text())
    promotion = final["promotion"]
    assert promotion["fidelity"] == "full" and promotion["screened_on"] == "commonsenseqa_acc"
    assert len(promotion["candidates"]) == 2
    frontier_ids = [c.id for c in sorted(result.frontier.candidates, key=lambda c: -(c.reward or 0))]
    assert promotion["candidates"][: len(frontier_ids)] == frontier_ids[:2]  # frontier members first
    for cid in promotion["candidates"]:
        scored = json.loads((tmp_path / "run" / f"episode_{int(cid[2:]):03d}" / "result.json").read_text())
        assert scored["promoted"]["commonsenseqa_acc"]["n"] == 12  # the full split, all of it
        assert scored["measurements"]["commonsenseqa_acc"]["n"] == 3  # the screen
    assert promotion["scores"]["baseline"]["n"] == 12
    assert sorted(sum(promotion["ranking"], [])) == sorted(["baseline", *promotion["candidates"]])
    # noise-aware ranking: overlapping intervals tie, separated ones do not
    metric = Metric(name="acc", direction="max")
    scores = {
        "a": Measurement(value=0.8, low=0.7, high=0.9),
        "b": Measurement(value=0.75, low=0.65, high=0.85),
        "c": Measurement(value=0.3, low=0.2, high=0.4),
    }
    assert tied_ranking(scores, metric) == [["a", "b"], ["c"]]


def test_the_reshaped_package_finds_the_same_frontier_for_the_same_seed(tmp_path):
    """tests/data/golden_frontier.json was recorded by acf before the package was reshaped into layers (#10), and
    recorded again (same strategies, same frontier) when `size_mb` became the checkpoint's bytes on disk and RTN's
    scales float16 (#12): the same seed gives the same strategies in the same order, the same measurements and
    the same frontier."""
    from pathlib import Path

    from acf.testing import build_tiny_model, write_gsm8k

    golden = json.loads((Path(__file__).parent / "data" / "golden_frontier.json").read_text())
    model = build_tiny_model(tmp_path / "tiny")
    data = write_gsm8k(tmp_path / "gsm8k.jsonl")
    # Then, a single-split data file was cut: its last quarter (6 of 24 items) was calibration text. Since #11
    # calibration never comes from the evaluated split; the same text, given as calibration_path, replays it.
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text("".join(data.read_text().splitlines(keepends=True)[18:]))
    result = acf.compress(
        str(model),
        "gsm8k",
        episodes=12,
        seed=3,
        run_dir=tmp_path / "run",
        methods=["rtn", "magnitude", "layer_drop"],
        evaluators=["size"],
        evaluator_options={"gsm8k": {"data_path": str(data), "limit": 12, "calibration_path": str(held_out)}},
    )
    assert [(c.id, c.strategy.describe(), c.status) for c in result.candidates] == [
        (c["id"], c["strategy"], c["status"]) for c in golden["candidates"]
    ]
    for c, g in zip(result.candidates, golden["candidates"]):
        assert c.value("gsm8k_loglik") == pytest.approx(g["gsm8k_loglik"], rel=1e-6, abs=1e-9)
        assert c.value("size_mb") == pytest.approx(g["size_mb"], rel=1e-9)
    assert [c.id for c in result.frontier.candidates] == golden["frontier"]
    assert result.frontier.recommended == golden["recommended"]
    assert result.frontier.hypervolume == pytest.approx(golden["hypervolume"], rel=1e-6)


def test_eval_and_export_build_no_run_config_of_their_own(acf_tiny_model, gsm8k_file, tmp_path, acf_cli, monkeypatch):
    from acf.types.config import RunConfig

    result = run(acf_tiny_model, gsm8k_file, tmp_path / "run", episodes=2, evaluators=["size"])
    built = []
    original = RunConfig.__init__

    def counting(self, **data):
        built.append(data)
        original(self, **data)

    monkeypatch.setattr(RunConfig, "__init__", counting)
    code, _, err = acf_cli(
        [
            "eval",
            str(acf_tiny_model),
            "--evaluators",
            "gsm8k,size",
            "--data-path",
            str(gsm8k_file),
            "--limit",
            "4",
            "--fidelity",
            "cheapest",
            "-q",
        ]
    )
    assert code == 0, err
    code, _, err = acf_cli(
        ["export", str(tmp_path / "run"), "--candidate", result.candidates[0].id, "--out", str(tmp_path / "out"), "-q"]
    )
    assert code == 0, err
    assert built == []  # the stored run_config.json is read, never a new one invented


def test_told_in_episode_order_a_parallel_run_asks_at_the_same_points_whatever_the_timing(
    acf_tiny_model, gsm8k_file, tmp_path, monkeypatch
):
    """Two candidates in flight: whether they finish one at a time or together, the searcher is told them in episode
    order and asked again after each tell — the same asks between the same tells, so the same strategies."""
    from acf.search.executors import LocalExecutor
    from acf.search.loop import Search

    class TwoSlots(LocalExecutor):
        slots = 2

        def __init__(self, session, together):
            super().__init__(session, None)
            self.together = together

        def wait(self):
            finished = super().wait()
            if self.together and self.queue:  # both in flight finish at the same moment
                finished += super().wait()
            return finished

    runs = []
    for together in (False, True):
        monkeypatch.setattr(Search, "_executor", lambda self, cost, together=together: TwoSlots(self.session, together))
        runs.append(
            run(acf_tiny_model, gsm8k_file, tmp_path / f"r{together}", tell_order="episode", evaluators=["size"])
        )
    assert [c.strategy for c in runs[0].candidates] == [c.strategy for c in runs[1].candidates]
    assert (
        [c.asked_after for c in runs[0].candidates] == [c.asked_after for c in runs[1].candidates] == [0, 0, 1, 2, 3, 4]
    )
