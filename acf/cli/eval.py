"""`acf eval`: measure a model or a run's candidate with chosen evaluators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from acf.errors import AcfError
from acf.plugins.manager import registry
from acf.cli.options import DEVICE, DTYPE, EVAL_OPTION, QUIET, RUNTIME, TRUST_REMOTE_CODE, parse_eval_options


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


def eval_command(
    target: str = typer.Argument(..., help="model (alias, folder, Hub id), a run directory (its pick) or RUN_DIR:ep003"),
    tasks: str = typer.Option(..., "--tasks", "-t", help="comma-separated evaluators, e.g. gsm8k,commonsenseqa,latency"),
    fidelity: str = typer.Option("full", help="full, cheap, or an evaluator's own fidelity name"),
    limit: Optional[int] = typer.Option(None, help="items each task scores (its 'limit' option)"),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="local data for the (single) task"),
    eval_option: list[str] = EVAL_OPTION,
    device: str = DEVICE,
    dtype: str = DTYPE,
    runtime: str = RUNTIME,
    trust_remote_code: bool = TRUST_REMOTE_CODE,
    quiet: bool = QUIET,
    json_out: bool = typer.Option(False, "--json", help="print the measurements as JSON"),
) -> None:
    """Measure a model, or a candidate of a run, with any evaluators."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    from acf.api import evaluate

    names = [t.strip() for t in tasks.split(",") if t.strip()]
    options = parse_eval_options(eval_option)
    bare = [n.partition(":")[0] for n in names]  # TASK:VARIANT names the task TASK
    task_names = [n for n in bare if getattr(registry().get("evaluator", n), "is_task", False)]
    if data_path is not None:
        if len(task_names) != 1:
            raise AcfError("--data-path needs exactly one task in --tasks")
        options.setdefault(task_names[0], {})["data_path"] = str(data_path)
    if limit is not None:
        for name in task_names:
            options.setdefault(name, {})["limit"] = limit
    what, measurements = evaluate(target, names, fidelity=fidelity, evaluator_options=options, device=device,
                                  dtype=dtype, runtime=runtime, trust_remote_code=trust_remote_code, progress=not quiet)
    if json_out:
        typer.echo(json.dumps({"target": what, "measurements": {k: v.model_dump() for k, v in measurements.items()}},
                              indent=2))
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
