"""`acf spec MODEL`: what acf infers from a model's config.json (no weights are read)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from acf.plugins.manager import registry


def register(app: typer.Typer) -> None:
    app.command("spec")(spec)


def spec(
    model: str = typer.Argument(..., help="alias, local folder or Hub id"),
    json_out: bool = typer.Option(False, "--json", help="print the ModelSpec as JSON"),
) -> None:
    """Show the inferred ModelSpec: architecture, sizes, memory at each precision, applicable methods."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    from acf.models.spec import infer_spec
    from acf.session.resolve import read_config, resolve_model

    resolved = resolve_model(model)
    result = infer_spec(
        read_config(resolved), source=model, path=str(resolved.path) if resolved.path else None, hub_id=resolved.hub_id
    )
    methods = registry().all("method")
    result.applicable_methods = sorted(n for n, cls in methods.items() if cls().applies_to(result) is None)
    if json_out:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    table = Table(title=f"ModelSpec — {model}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in result.model_dump(mode="json").items():
        if key == "memory_bytes":
            value = ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        elif key == "num_parameters":
            value = f"{value:,} ({value / 1e6:.1f} M)"
        table.add_row(key, str(value))
    Console().print(table)
