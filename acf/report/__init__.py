"""`acf report`: one self-contained HTML file (no CDN, no network) showing a run's trade-offs."""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from acf.api import load_run
from acf.rundir.files import atomic_write_text
from acf.rundir.store import RunStore
from acf.types.frontier import build_frontier
from acf.types.objectives import Constraint


def report_data(run_dir: str | Path) -> dict[str, Any]:
    """Everything the page shows, as plain JSON (also what tests and other tools may read)."""
    run_dir = Path(run_dir)
    result = load_run(run_dir)
    store = RunStore(run_dir)
    config = store.read_config().model_dump(mode="json")
    spec = store.read_spec()
    final = store.read_final()
    frontier = result.frontier
    baseline = {k: v.model_dump() for k, v in (store.read_baseline() or frontier.baseline).items()}
    ids = {c.id for c in frontier.candidates}
    episodes = [
        {
            "id": c.id,
            "episode": c.episode,
            "strategy": c.strategy.describe(),
            "status": c.status,
            "reason": c.reason,
            "reward": c.reward,
            "feasible": c.feasible,
            "violations": c.violations,
            "frontier": c.id in ids,
            "recommended": c.id == frontier.recommended,
            "cached": c.cached,
            "seconds": c.seconds,
            "measurements": {k: m.model_dump() for k, m in c.measurements.items()},
            "allocation": allocation(c.steps),
            "rationale": c.rationale,
        }
        for c in result.candidates
    ]
    hypervolume = (
        [
            build_frontier(result.candidates[:k], frontier.objectives, frontier.baseline).hypervolume
            for k in range(1, len(result.candidates) + 1)
        ]
        if frontier.baseline
        else []
    )
    constraints = []
    for text in config.get("constraints", []):
        c = Constraint.parse(text)
        base = baseline.get(c.metric, {}).get("value")
        try:
            constraints.append({"text": text, "metric": c.metric, "op": c.op, "threshold": c.threshold(base)})
        except Exception:
            constraints.append({"text": text, "metric": c.metric, "op": c.op, "threshold": None})
    metrics = sorted({k for e in episodes for k in e["measurements"]} | set(baseline))
    return {
        "run_dir": str(run_dir),
        "references": {
            runtime: {k: v.model_dump() for k, v in ms.items()} for runtime, ms in store.read_references().items()
        },
        "config": config,
        "spec": spec,
        "objectives": [m.model_dump() for m in frontier.objectives],
        "directions": {m.name: m.direction for m in frontier.objectives},
        "metrics": metrics,
        "baseline": baseline,
        "episodes": episodes,
        "constraints": constraints,
        "recommended": frontier.recommended,
        "recommended_reason": frontier.recommended_reason,
        "hypervolume": hypervolume,
        "frontier_size": len(frontier.candidates),
        "finished": final is not None,
        "promotion": final.promotion.model_dump(mode="json") if final and final.promotion else None,
    }


def allocation(steps: list[dict[str, Any]]) -> dict[str, str] | None:
    """The per-layer allocation a candidate's steps recorded (unit key → level name), if one did."""
    return next((s["allocation"] for s in steps or [] if isinstance(s.get("allocation"), dict)), None)


def render(run_dir: str | Path) -> str:
    data = report_data(run_dir)
    template = resources.files("acf.report").joinpath("template.html").read_text()
    payload = json.dumps(data, default=str).replace("</", "<\\/")  # safe inside <script>
    title = html.escape(f"acf report — {data['config'].get('model')} on {data['config'].get('dataset')}")
    return template.replace("{{TITLE}}", title).replace("{{DATA}}", payload)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    run_dir = Path(run_dir)
    RunStore(run_dir).read_config()  # not a run directory: a one-line error
    out = Path(out) if out else RunStore(run_dir).report_path()
    atomic_write_text(out, render(run_dir))
    return out
