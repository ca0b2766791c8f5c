"""`acf compress` and `acf resume`."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer

from acf.cli.frontier import print_frontier
from acf.cli.options import generated, parameter, run_values
from acf.errors import Interrupted
from acf.types.options import COMMAND, OPTIONS, task_shorthands


def register(app: typer.Typer) -> None:
    app.command("compress")(compress)
    app.command("resume")(resume)
    app.command("export")(export)


# `acf compress`'s parameters, in the order `--help` lists them: every run option, then the command's own.
COMPRESS = [*OPTIONS, "run_dir", "resume", "limit", "data_path", "quiet", "json"]


@generated(COMPRESS)
def compress(**values: Any) -> None:
    """Search for the best compressed versions of MODEL on a task."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    import acf.api as api

    options = run_values(values)
    options["evaluator_options"] = task_shorthands(
        options["evaluator_options"], [options["dataset"]], limit=values["limit"], data_path=values["data_path"]
    )
    model, dataset = options.pop("model"), options.pop("dataset")
    with interruptible():
        result = api.compress(
            model, dataset, run_dir=values["run_dir"], resume=values["resume"], progress=not values["quiet"], **options
        )
    _report(result, values["json"])


# Where a resumed run goes on may change; `None` keeps what the run stored.
PLACEMENT = [name for name, option in OPTIONS.items() if option.placement]


@generated([*PLACEMENT, "quiet", "json"], defaults=dict.fromkeys(PLACEMENT))
def resume(run_dir: Path = typer.Argument(..., help="the run directory to continue"), **values: Any) -> None:
    """Continue a killed or interrupted run; finished episodes are kept, not re-run."""
    import acf.api as api

    where = {k: v for k, v in run_values(values).items() if v is not None}
    with interruptible():
        result = api.resume(run_dir, progress=not values["quiet"], **where)
    _report(result, values["json"])


def export(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    candidate: Optional[str] = typer.Option(
        None, "--candidate", help="episode id, e.g. ep003 (default: the recommended pick)"
    ),
    out: Path = typer.Option(..., "--out", help="folder to write the candidate to"),
    form: str = typer.Option(
        "native",
        "--format",
        help="native (the artifact that was measured: a GGUF file, a compressed-tensors or "
        "Hugging Face folder) or hf (a Hugging Face folder)",
    ),
    quiet: bool = parameter(COMMAND["quiet"]),
) -> None:
    """Write a candidate as the artifact that was measured, checked by reloading it where it was measured."""
    import acf.api as api
    from acf.rundir.files import read_json
    from acf.rundir.names import EXPORT_RECORD

    folder = api.export(run_dir, out, candidate=candidate, format=form, progress=not quiet)
    record = read_json(folder / EXPORT_RECORD)
    trip = record["round_trip"]
    what = folder / record["artifact"] if record["artifact"] != "." else folder
    typer.echo(
        f"Exported {what} ({trip['format']}): reloaded on {trip['runtime']}, {trip['items']} items within "
        f"{trip['max_difference']:.2g} nats/token of the run's candidate (tolerance {trip['tolerance']})"
        + (f"; {trip['note']}" if trip["note"] else "")
    )


def _report(result, json_out: bool) -> None:
    from acf.rundir.files import read_json
    from acf.rundir.store import RunStore

    if json_out:
        typer.echo(json.dumps(read_json(RunStore(result.run_dir).final_path()), indent=2))
        return
    print_frontier(result)
    typer.echo(f"Run directory: {result.run_dir}")


@contextmanager
def interruptible():
    """Ctrl-C during a run: say where its finished episodes are and how to go on, exit 130 (typer would exit 130
    in silence)."""
    try:
        yield
    except Interrupted as exc:
        print(exc.message(), file=sys.stderr)
        raise typer.Exit(130) from None
