"""Runs under a folder, summarised: model, dataset, progress, best reward and status."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from acf.errors import AcfError, RunStoreError
from acf.rundir.store import RunStore, is_run_dir


def summarise(run_dir: Path) -> dict[str, Any]:
    store = RunStore(run_dir)
    config = store.read_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a corrupt result is reported by resume, not by a listing
        results = store.finished_episodes()
    rewards = [r.reward for r in results if r.status == "ok" and r.reward is not None]
    if store.lock().held_elsewhere():
        status = "running"
    elif store.final_path().is_file() and len(results) >= config.episodes:
        status = "finished"
    else:
        status = "interrupted"
    return {
        "run_dir": str(run_dir),
        "model": config.model,
        "dataset": config.dataset,
        "episodes": len(results),
        "planned": config.episodes,
        "best_reward": max(rewards, default=None),
        "status": status,
    }


def list_runs(folder: str | Path) -> list[dict[str, Any]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise AcfError(f"{folder} is not a folder", hint="runs are under ./runs unless --run-dir said otherwise")
    out = []
    for run_dir in sorted(p for p in folder.iterdir() if is_run_dir(p)):
        try:
            out.append(summarise(run_dir))
        except RunStoreError as exc:
            out.append({"run_dir": str(run_dir), "status": f"unreadable: {exc}"})
    return out
