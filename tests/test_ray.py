"""`--executor ray`: candidates in parallel on a local Ray cluster started by the test (`ray.init(num_cpus=2)`)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import acf

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster(plugin_site_module):
    """A local cluster whose workers find the test plugin (its `slow` evaluator) through its entry point."""
    os.environ["PYTHONPATH"] = os.pathsep.join([str(plugin_site_module), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def plugin_site_module(tmp_path_factory):
    from conftest import make_plugin_site

    return make_plugin_site(tmp_path_factory.mktemp("site") / "site")


def options(data, **kw):
    return {
        "episodes": 6,
        "seed": 0,
        "methods": ["rtn", "magnitude"],
        "evaluators": ["size"],
        "evaluator_options": {"gsm8k": {"data_path": str(data), "limit": 6}},
        **kw,
    }


def test_two_workers_evaluate_the_same_strategies_as_one_local_run(cluster, acf_tiny_model, gsm8k_file, tmp_path):
    local = acf.compress(
        str(acf_tiny_model), "gsm8k", run_dir=tmp_path / "local", **options(gsm8k_file, searcher="random")
    )
    parallel = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "ray",
        **options(gsm8k_file, searcher="random", executor="ray", workers=2),
    )
    assert sorted(c.strategy.describe() for c in parallel.candidates) == sorted(
        c.strategy.describe() for c in local.candidates
    )
    assert all(c.status == "ok" for c in parallel.candidates)
    by = {c.strategy.describe(): c for c in local.candidates}
    for c in parallel.candidates:  # the same numbers, measured by other processes
        assert c.value("size_mb") == by[c.strategy.describe()].value("size_mb")
        assert c.value("gsm8k_loglik") == pytest.approx(by[c.strategy.describe()].value("gsm8k_loglik"), abs=1e-9)
    assert {c.worker for c in parallel.candidates} == {"worker-1", "worker-2"}
    assert sorted(c.told for c in parallel.candidates) == list(range(6))
    assert [c.asked_after for c in parallel.candidates][:2] == [0, 0]  # two asked before any result came back
    assert parallel.frontier.hypervolume == pytest.approx(local.frontier.hypervolume)


def test_episode_order_makes_a_parallel_nevergrad_run_reproducible(cluster, acf_tiny_model, gsm8k_file, tmp_path):
    """NGOpt asked twice before it is told proposes what a one-at-a-time run would not (it has not seen the first
    result): the sets differ from a local run's after the method-default seeds. Told in episode order, a parallel
    run is reproducible: the same seed, the same strategies, whatever the timing."""
    runs = [
        acf.compress(
            str(acf_tiny_model),
            "gsm8k",
            run_dir=tmp_path / f"r{i}",
            **options(gsm8k_file, executor="ray", workers=2, tell_order="episode"),
        )
        for i in range(2)
    ]
    assert [c.strategy for c in runs[0].candidates] == [c.strategy for c in runs[1].candidates]
    assert [c.told for c in runs[0].candidates] == list(range(6))  # told in episode order


def test_a_worker_killed_mid_candidate_is_replaced_and_the_candidate_retried(
    cluster, acf_tiny_model, gsm8k_file, tmp_path, my_plugin
):
    # `my_plugin`: the driver knows the `slow` evaluator too (the workers find it through the entry point)
    run_dir = tmp_path / "run"
    result = {}
    opts = options(
        gsm8k_file,
        executor="ray",
        workers=2,
        episodes=4,
        evaluators=["size", "slow"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}, "slow": {"seconds": 3.0}},
    )

    def drive():
        try:
            result["r"] = acf.compress(str(acf_tiny_model), "gsm8k", run_dir=run_dir, **opts)
        except Exception:  # shown by the assertion below
            import traceback

            result["error"] = traceback.format_exc()

    thread = threading.Thread(target=drive)
    thread.start()
    deadline = time.time() + 300
    while not (run_dir / "episode_002" / "strategy.json").exists() and time.time() < deadline and thread.is_alive():
        time.sleep(0.2)
    time.sleep(1.0)  # the first candidates are in the workers' hands
    workers = [
        a for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(f"acf-{os.getpid()}-")
    ]
    assert workers, result
    for actor in workers:
        ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
    thread.join(timeout=300)
    assert "r" in result, result.get("error")
    run = result["r"]
    assert [c.status for c in run.candidates] == ["ok"] * 4, [c.reason for c in run.candidates]
    assert max(c.attempts for c in run.candidates) >= 2  # tried again on a new worker


def test_a_killed_driver_resumes_with_no_finished_episode_lost(
    cluster, acf_tiny_model, gsm8k_file, tmp_path, plugin_site_module
):
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_site_module), os.environ.get("PYTHONPATH", "")])}
    args = [
        sys.executable,
        "-m",
        "acf",
        "compress",
        str(acf_tiny_model),
        "-d",
        "gsm8k",
        "--data-path",
        str(gsm8k_file),
        "--limit",
        "6",
        "-n",
        "6",
        "-m",
        "rtn",
        "-m",
        "magnitude",
        "-e",
        "size",
        "-e",
        "slow",
        "--eval-option",
        "slow.seconds=2",
        "--executor",
        "ray",
        "--ray-address",
        cluster,
        "--workers",
        "2",
        "--seed",
        "0",
        "--quiet",
        "--run-dir",
        str(run_dir),
    ]
    driver = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not list(run_dir.glob("episode_*/result.json")) and time.time() < deadline and driver.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert driver.returncode == -signal.SIGKILL, driver.stderr.read().decode()[-3000:]
    before = {p.parent.name: p.read_text() for p in run_dir.glob("episode_*/result.json")}
    asked = sorted(p.parent.name for p in run_dir.glob("episode_*/strategy.json"))
    assert before and len(asked) > len(before)  # killed with candidates in flight
    resumed = subprocess.run(
        [sys.executable, "-m", "acf", "resume", str(run_dir), "--quiet", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = json.loads(resumed.stdout)
    assert final["episodes"] == {"ok": 6, "failed": 0, "skipped": 0}
    for name, text in before.items():  # every finished episode kept as it was
        assert (run_dir / name / "result.json").read_text() == text
    results = [json.loads(p.read_text()) for p in sorted(run_dir.glob("episode_*/result.json"))]
    assert sorted(r["told"] for r in results) == list(range(6))  # each told once
    assert len({json.dumps(r["strategy"], sort_keys=True) for r in results}) == len(results)


def test_an_unreachable_cluster_or_a_missing_extra_is_one_line(acf_tiny_model, gsm8k_file, tmp_path, monkeypatch):
    args = [
        "compress",
        str(acf_tiny_model),
        "-d",
        "gsm8k",
        "--data-path",
        str(gsm8k_file),
        "-m",
        "rtn",
        "--executor",
        "ray",
        "--run-dir",
        str(tmp_path / "r"),
    ]
    run = subprocess.run(
        [sys.executable, "-m", "acf", *args, "--ray-address", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("Error: cannot reach the Ray cluster at 127.0.0.1:9: nothing answers")
    assert run.stderr.count("Error:") == 1  # one line and its hint
    assert not (tmp_path / "r").exists()
    from acf.testing import run_cli

    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    code, _, err = run_cli(args)
    assert code == 2 and "pip install 'acf[ray]'" in err and "Traceback" not in err


def test_a_worker_computes_with_as_many_torch_threads_as_cpus_per_candidate(
    cluster, acf_tiny_model, gsm8k_file, tmp_path
):
    """`--cpus-per-candidate` is each worker's Ray reservation and its torch thread count; by default the cluster's
    CPUs are shared out (2 here: 1 each for 2 workers, both for 1); asking for more than the cluster has is one line."""
    from acf.search.ray_executor import RayExecutor
    from acf.system.progress import Progress
    from acf.types.config import RunConfig

    def threads(**kw):
        config = RunConfig.build(
            model=str(acf_tiny_model), dataset="gsm8k", executor="ray", **options(gsm8k_file, **kw)
        )
        executor = RayExecutor(config, tmp_path, Progress())
        try:
            return sorted(ray.get([actor.threads.remote() for actor in executor.actors.values()]))
        finally:
            executor.close()

    assert threads(workers=1, cpus_per_candidate=2) == [2]
    assert threads(workers=2) == [1, 1]
    assert threads(workers=1) == [2]
    with pytest.raises(acf.AcfError, match="needs 4 CPUs; the Ray cluster has 2"):
        threads(workers=2, cpus_per_candidate=2)
