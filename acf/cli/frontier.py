"""`acf frontier show`: the Pareto frontier of a run, its hypervolume and the recommended pick."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer

from acf.cli.app import make_typer
from acf.errors import AcfError
from acf.plugins.manager import registry

app = make_typer()


@app.command("show")
def show(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    objectives: str = typer.Option(
        "", "--objectives", help="comma-separated metrics: the frontier on these instead of the run's"
    ),
    json_out: bool = typer.Option(False, "--json", help="print pareto_frontier.json"),
) -> None:
    """Print the frontier: one row per non-dominated candidate, the recommended one marked (★)."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    from acf.api import load_run

    result = load_run(run_dir)
    names = [n.strip() for n in objectives.split(",") if n.strip()]
    if names:
        result = on_objectives(result, run_dir, names)
    if json_out:
        typer.echo(json.dumps(result.frontier.model_dump(mode="json"), indent=2))
        return
    print_frontier(result)


def on_objectives(result, run_dir: Path, names: list[str]):
    """The same candidates, with the frontier rebuilt on other measured metrics (directions from the evaluators)."""
    from acf.rundir.store import RunStore
    from acf.types.frontier import build_frontier

    known = {m.name: m for cls in registry().all("evaluator").values() for m in cls.metrics}
    baseline = RunStore(Path(run_dir)).read_baseline() or {}
    missing = [n for n in names if n not in known or n not in baseline]
    if missing:
        raise AcfError(
            f"no measured metric(s) {', '.join(missing)} in this run; measured: {', '.join(sorted(baseline))}"
        )
    frontier = build_frontier(result.candidates, [known[n] for n in names], baseline)
    return replace(result, frontier=frontier)


def _fmt(m, base=None, reference=None) -> str:
    """A measurement with its interval and caveats; a cost timed on another runtime than the baseline's also shows
    its ratio to the baseline and to the uncompressed model on its own runtime (`baseline.json` → `by_runtime`)."""
    flag = m.caveats()
    text = f"{m.value:.4g} [{m.low:.4g}, {m.high:.4g}]{flag}" if m.high > m.low else f"{m.value:.4g}{flag}"
    if base is not None and reference is not None and base.runtime != m.runtime and base.value and reference.value:
        to_base, to_own = m.value / base.value, m.value / reference.value
        text += f" (×{to_base:.3g} baseline on {base.runtime}, ×{to_own:.3g} uncompressed on {m.runtime})"
    return text


def references_of(result) -> dict:
    from acf.rundir.store import RunStore

    run_dir = getattr(result, "run_dir", None)
    return RunStore(run_dir).read_references() if run_dir is not None else {}


def print_frontier(result) -> None:
    from rich.console import Console
    from rich.table import Table

    frontier = result.frontier
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 140))  # piped output: do not wrap at 80 columns
    table = Table(
        title=f"Pareto frontier — {len(frontier.candidates)} candidate(s), hypervolume {frontier.hypervolume:.4f}"
    )
    table.add_column("", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("strategy", min_width=28, overflow="fold")
    for m in frontier.objectives:
        arrow = "↑" if m.direction == "max" else "↓"
        table.add_column(f"{m.name} {arrow}", justify="right")
    table.add_column("reward", justify="right")
    table.add_column("constraints")
    base_row = [
        "",
        "baseline",
        "uncompressed",
        *(_fmt(frontier.baseline[m.name]) for m in frontier.objectives),
        "0",
        "",
    ]
    table.add_row(*base_row, style="dim")
    references = references_of(result)

    def cell(c, name):
        m = c.measurements[name]
        return _fmt(m, frontier.baseline.get(name), references.get(m.runtime, {}).get(name))

    for c in frontier.candidates:
        marker = "★" if c.id == frontier.recommended else ""
        status = "ok" if c.feasible else "violates " + ", ".join(c.violations)
        table.add_row(
            marker,
            c.id,
            c.strategy.describe(),
            *(cell(c, m.name) for m in frontier.objectives),
            f"{c.reward:+.4f}",
            status,
        )
    console.print(table)
    if frontier.recommended:
        console.print(f"★ recommended: {frontier.recommended} — {frontier.recommended_reason}")
    else:
        console.print(f"no recommendation: {frontier.recommended_reason}")
    note = simulated_note(getattr(result, "candidates", None) or frontier.candidates)
    if note:
        console.print(note, markup=False)
    for c in frontier.candidates:
        print_allocation(console, c)


def print_allocation(console, candidate) -> None:
    """A per-layer candidate's levels: a row per decoder block, a column per projection group."""
    from rich.table import Table

    from acf.report import allocation

    levels = allocation(candidate.steps)
    if not levels:
        return
    groups = list(dict.fromkeys(key.split("_", 1)[1] for key in levels))
    table = Table(title=f"{candidate.id}: per-layer allocation", title_justify="left")
    table.add_column("block", justify="right")
    for g in groups:
        table.add_column(g)
    for block in sorted({key.split("_", 1)[0] for key in levels}):
        table.add_row(str(int(block.lstrip("L"))), *(levels.get(f"{block}_{g}", "") for g in groups))
    console.print(table)


def simulated_note(candidates) -> str | None:
    """One line saying how many candidates' cost is simulated, and for which formats."""
    hit = [c for c in candidates if any(m.simulated for m in c.measurements.values())]
    if not hit:
        return None
    formats = sorted({m.format for c in hit for m in c.measurements.values() if m.simulated and m.format})
    runtimes = sorted({m.runtime for c in hit for m in c.measurements.values() if m.simulated and m.runtime})
    return (
        f"simulated: the cost of {len(hit)} candidate(s) was measured on {', '.join(runtimes) or 'a runtime'}, "
        f"which does not run {', '.join(formats)} natively (not the deployed model's cost; see --runtime)"
    )
