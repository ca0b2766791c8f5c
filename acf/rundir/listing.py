"""Runs under a folder, summarised: model, dataset, progress, best reward and status."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from acf.errors import AcfError, RunStoreError
from acf.rundir.store import RunLock, RunStore


def summarise(run_dir: Path) -> dict[str, Any]:
    store = RunStore(run_dir)
    config = store.read("run_config.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a corrupt result is reported by resume, not by a listing
        results = store.finished_episodes()
    rewards = [r["reward"] for r in results if r.get("status") == "ok" and r.get("reward") is not None]
    if RunLock(run_dir).held_elsewhere():
        status = "running"
    elif store.has("final_results.json") and len(results) >= config.get("episodes", 0):
        status = "finished"
    else:
        status = "interrupted"
    return {"run_dir": str(run_dir), "model": config.get("model"), "dataset": config.get("dataset"),
            "episodes": len(results), "planned": config.get("episodes"), "best_reward": max(rewards, default=None),
            "status": status}


def list_runs(folder: str | Path) -> list[dict[str, Any]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise AcfError(f"{folder} is not a folder", hint="runs are under ./runs unless --run-dir said otherwise")
    out = []
    for run_dir in sorted(p for p in folder.iterdir() if (p / "run_config.json").is_file()):
        try:
            out.append(summarise(run_dir))
        except RunStoreError as exc:
            out.append({"run_dir": str(run_dir), "status": f"unreadable: {exc}"})
    return out
