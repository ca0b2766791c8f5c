"""`acf runs list`: the runs under a folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from acf.cli.app import make_typer

app = make_typer()


@app.command("list")
def list_command(
    folder: Path = typer.Argument(Path("runs"), help="folder holding run directories"),
    json_out: bool = typer.Option(False, "--json", help="print the summaries as JSON"),
) -> None:
    """One row per run: model, dataset, episodes, best reward and status (running / finished / interrupted)."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    from acf.rundir.listing import list_runs

    runs = list_runs(folder)
    if json_out:
        typer.echo(json.dumps(runs, indent=2))
        return
    table = Table(title=f"{len(runs)} run(s) under {folder}")
    for column in ("run", "model", "dataset", "episodes", "best reward", "status"):
        table.add_column(column, justify="right" if column in ("episodes", "best reward") else "left")
    for r in runs:
        best = r.get("best_reward")
        table.add_row(
            Path(r["run_dir"]).name,
            str(r.get("model", "")),
            str(r.get("dataset", "")),
            f"{r.get('episodes', '')}/{r.get('planned', '')}",
            "" if best is None else f"{best:+.4f}",
            r["status"],
        )
    Console().print(table)
