"""`acf eval`: measure a model or a run's candidate with chosen evaluators."""

from __future__ import annotations

import json
import warnings
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from acf.cli.options import generated, run_values
from acf.plugins.manager import registry
from acf.types.options import task_shorthands


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


@generated(
    ["evaluator_options", "device", "dtype", "runtime", "trust_remote_code", "limit", "data_path", "quiet", "json"]
)
def eval_command(
    target: str = typer.Argument(
        ..., help="model (alias, folder, Hub id), a run directory (its pick) or RUN_DIR:ep003"
    ),
    evaluators: Optional[str] = typer.Option(
        None, "--evaluators", "-e", help="comma-separated evaluators, e.g. gsm8k,commonsenseqa,latency"
    ),
    tasks: Optional[str] = typer.Option(None, "--tasks", "-t", hidden=True, help="deprecated: --evaluators"),
    fidelity: str = typer.Option("highest", help="highest, cheapest, or an evaluator's own fidelity name"),
    **values: Any,
) -> None:
    """Measure a model, or a candidate of a run, with any evaluators."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    from acf.api import evaluate

    if tasks is not None:
        warnings.warn("--tasks is deprecated: it names any evaluator, so it is now --evaluators", stacklevel=1)
    names = [t.strip() for t in (evaluators or tasks or "").split(",") if t.strip()]
    options = run_values(values)
    task_names = [n for n in names if getattr(registry().get("evaluator", n.partition(":")[0]), "is_task", False)]
    options["evaluator_options"] = task_shorthands(
        options["evaluator_options"], task_names, limit=values["limit"], data_path=values["data_path"]
    )
    what, measurements = evaluate(target, names, fidelity=fidelity, progress=not values["quiet"], **options)
    json_out = values["json"]
    if json_out:
        typer.echo(
            json.dumps({"target": what, "measurements": {k: v.model_dump() for k, v in measurements.items()}}, indent=2)
        )
        return
    table = Table(title=what)
    for column in ("metric", "value", "95% interval", "n", "fidelity"):
        table.add_column(column, justify="left" if column in ("metric", "fidelity") else "right")
    for name, m in measurements.items():
        table.add_row(name, f"{m.value:.4g}{m.caveats()}", f"[{m.low:.4g}, {m.high:.4g}]", str(m.n), m.fidelity)
    console = Console()
    console.print(table)
    for line in dict.fromkeys(x for m in measurements.values() for x in ([m.items] if m.items else []) + m.notes):
        console.print(f"  {line}", markup=False)
