"""`acf report`: one self-contained HTML file (no CDN, no network) showing a run's trade-offs."""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from acf.errors import RunStoreError


def report_data(run_dir: str | Path) -> dict[str, Any]:
    """Everything the page shows, as plain JSON (also what tests and other tools may read)."""
    from acf.api import load_run
    from acf.search.frontier import build_frontier
    from acf.search.objectives import Constraint
    from acf.rundir.store import RunStore

    run_dir = Path(run_dir)
    result = load_run(run_dir)
    store = RunStore(run_dir)
    config = store.read("run_config.json")
    spec = store.read("model_spec.json") if store.has("model_spec.json") else {}
    final = store.read("final_results.json") if store.has("final_results.json") else None
    frontier = result.frontier
    baseline = {k: v.model_dump() for k, v in frontier.baseline.items()}
    if store.has("baseline.json"):
        baseline = store.read("baseline.json")
    ids = {c.id for c in frontier.candidates}
    episodes = [{
        "id": c.id, "episode": c.episode, "strategy": c.strategy.describe(), "status": c.status, "reason": c.reason,
        "reward": c.reward, "feasible": c.feasible, "violations": c.violations, "frontier": c.id in ids,
        "recommended": c.id == frontier.recommended, "cached": c.cached, "seconds": c.seconds,
        "measurements": {k: m.model_dump() for k, m in c.measurements.items()},
    } for c in result.candidates]
    hypervolume = [build_frontier(result.candidates[:k], frontier.objectives, frontier.baseline).hypervolume
                   for k in range(1, len(result.candidates) + 1)] if frontier.baseline else []
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
        "run_dir": str(run_dir), "config": config, "spec": spec,
        "objectives": [m.model_dump() for m in frontier.objectives],
        "directions": {m.name: m.direction for m in frontier.objectives},
        "metrics": metrics, "baseline": baseline, "episodes": episodes, "constraints": constraints,
        "recommended": frontier.recommended, "recommended_reason": frontier.recommended_reason,
        "hypervolume": hypervolume, "frontier_size": len(frontier.candidates),
        "finished": final is not None, "promotion": (final or {}).get("promotion"),
    }


def render(run_dir: str | Path) -> str:
    data = report_data(run_dir)
    template = resources.files("acf.report").joinpath("template.html").read_text()
    payload = json.dumps(data, default=str).replace("</", "<\\/")  # safe inside <script>
    title = html.escape(f"acf report — {data['config'].get('model')} on {data['config'].get('dataset')}")
    return template.replace("{{TITLE}}", title).replace("{{DATA}}", payload)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    from acf.rundir.store import atomic_write_text

    run_dir = Path(run_dir)
    if not (run_dir / "run_config.json").is_file():
        raise RunStoreError(f"{run_dir} is not an acf run directory (no run_config.json)")
    out = Path(out) if out else run_dir / "report.html"
    atomic_write_text(out, render(run_dir))
    return out
