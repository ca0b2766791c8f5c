"""Scheduling efficiency of `--executor ray`: candidates with a fixed evaluation time, replayed with sleeps, on 1, 2,
4 and 8 local Ray workers — speed-up over one worker ÷ workers — and, with `--real`, a real run on SmolLM2-135M
with 2 Ray workers against the local executor, on this machine.

Run: python benchmarks/scaling.py [--candidates 48] [--seconds 2] [--workers 1,2,4,8] [--real] [--json PATH]

The replay drives the real search loop and Ray executor (proposals, run directory, frontier, tells; Ray actors,
JSON both ways); only a worker's evaluation is a sleep of `--seconds` returning fixed measurements. The clock runs
over the search (first candidate submitted to last result recorded); starting the workers is timed apart. The
number of candidates is a multiple of every worker count, so no tail is left to one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


class ReplayWorker:
    """A Ray worker whose evaluation is a sleep of `seconds`: what is measured is the scheduling around it."""

    seconds = 2.0

    def __init__(self, config: dict, run_dir: str, label: str):
        self.label = label

    def run(self, point: dict, frontier: dict | None) -> dict:
        from acf.search.pipelines import point_to_strategy

        time.sleep(self.seconds)
        size = 100.0 + sum(map(ord, json.dumps(point, sort_keys=True))) % 97
        return {
            "strategy": point_to_strategy(point).model_dump(mode="json"),
            "status": "ok",
            "worker": self.label,
            "measurements": {"gsm8k_loglik": exact(-1.0 - size / 1000), "size_mb": exact(size)},
            "seconds": self.seconds,
        }

    def baseline(self) -> dict:
        return {"gsm8k_loglik": exact(-1.0), "size_mb": exact(200.0)}

    def suggest(self, budgets: dict) -> list:
        return []

    def pid(self) -> int:
        return os.getpid()


def exact(value: float) -> dict:
    return {"value": value, "low": value, "high": value, "n": 1}


def replay(model: Path, data: Path, workers: int, candidates: int) -> dict:
    """One replayed search on `workers` Ray workers."""
    from acf.search.loop import Search
    from acf.search.ray_executor import RayExecutor
    from acf.system.progress import Progress
    from acf.types.config import RunConfig

    config = RunConfig.build(
        model=str(model),
        dataset="gsm8k",
        episodes=candidates,
        seed=0,
        searcher="random",
        methods=["rtn", "magnitude"],
        evaluators=["size"],
        workers=workers,
        evaluator_options={"gsm8k": {"data_path": str(data), "limit": 2}},
    )
    search = Search(config, Path(tempfile.mkdtemp(prefix="acf-scaling-")) / "run")
    started = time.perf_counter()
    search.executor = RayExecutor(config, search.store.dir, Progress(), worker_cls=ReplayWorker)
    import ray

    ray.get([actor.pid.remote() for actor in search.executor.actors.values()])  # every worker up
    ready = time.perf_counter()
    search.execute()
    done = time.perf_counter()
    shutil.rmtree(search.store.dir.parent, ignore_errors=True)
    return {
        "workers": workers,
        "startup_s": round(ready - started, 2),
        "run_s": round(done - ready, 2),
        "ok": sum(c.status == "ok" for c in search.candidates),
    }


def real(model: str, episodes: int) -> list[dict]:
    """The same search on SmolLM2-135M, local then 2 Ray workers, each with an empty evaluation cache."""
    import acf

    rows = []
    for executor, workers in (("local", 1), ("ray", 2)):
        cache = Path(tempfile.mkdtemp(prefix="acf-scaling-cache-"))
        models = Path(os.environ.get("ACF_CACHE_DIR", Path.home() / ".cache" / "acf")) / "models"
        if models.is_dir():
            (cache / "models").symlink_to(models)  # the converted SmolLM2, not converted again
        os.environ["ACF_CACHE_DIR"] = str(cache)
        started = time.perf_counter()
        result = acf.compress(
            model,
            "gsm8k",
            episodes=episodes,
            seed=0,
            methods=["rtn", "magnitude"],
            evaluators=["size", "latency"],
            executor=executor,
            workers=workers,
            run_dir=cache / "run",
        )
        rows.append(
            {
                "executor": executor,
                "workers": workers,
                "seconds": round(time.perf_counter() - started, 1),
                "ok": sum(c.status == "ok" for c in result.candidates),
                "strategies": sorted(c.strategy.describe() for c in result.candidates),
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=2.0, help="evaluation time of every candidate")
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--real", action="store_true", help="also a real 2-worker run on SmolLM2-135M")
    parser.add_argument("--real-episodes", type=int, default=6)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import ray

    from acf.testing import build_tiny_model, write_gsm8k

    ReplayWorker.seconds = args.seconds  # pickled with the class for the workers
    scratch = Path(tempfile.mkdtemp(prefix="acf-scaling-"))
    model, data = build_tiny_model(scratch / "tiny"), write_gsm8k(scratch / "gsm8k.jsonl")
    counts = [int(w) for w in args.workers.split(",")]
    ray.init(num_cpus=max(counts), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        rows = [replay(model, data, n, args.candidates) for n in counts]
    finally:
        ray.shutdown()
    one = next(r for r in rows if r["workers"] == 1)["run_s"]
    print(f"{args.candidates} candidates × {args.seconds:g} s (sleeps), local Ray cluster; {os.cpu_count()} CPUs\n")
    print("| workers | run s | speed-up | efficiency | worker start-up s |")
    print("|---|---|---|---|---|")
    for r in rows:
        r["speedup"] = one / r["run_s"]
        r["efficiency"] = r["speedup"] / r["workers"]
        print(
            f"| {r['workers']} | {r['run_s']:.1f} | {r['speedup']:.2f}× | {r['efficiency']:.2f} "
            f"| {r['startup_s']:.1f} |"
        )
    out = {"candidates": args.candidates, "seconds": args.seconds, "replay": rows}
    if args.real:
        out["real"] = real("smollm2-135m", args.real_episodes)
        local = out["real"][0]["seconds"]
        print(f"\nSmolLM2-135M, {args.real_episodes} episodes (rtn, magnitude; gsm8k, size, latency), this machine:\n")
        print("| executor | workers | seconds | speed-up | ok |")
        print("|---|---|---|---|---|")
        for r in out["real"]:
            print(
                f"| {r['executor']} | {r['workers']} | {r['seconds']:.0f} | {local / r['seconds']:.2f}× | {r['ok']} |"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
