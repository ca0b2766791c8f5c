"""`acf report`: a self-contained HTML page of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file to write (default RUN_DIR/report.html)"),
) -> None:
    """Write one self-contained HTML file: Pareto chart, recommended pick, episodes, hypervolume."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    from acf.report import write_report

    path = write_report(run_dir, out)
    typer.echo(f"Report written to {path} ({path.stat().st_size / 1024:.0f} KiB, opens offline)")
