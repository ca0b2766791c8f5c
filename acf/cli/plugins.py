"""`acf plugins list`: installed plugins, their versions, hooks and what each registered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from acf.cli.app import make_typer
from acf.plugins.manager import BUILTIN_PLUGINS, distribution, hooks_of, load_plugins, registry
from acf.plugins.registry import PLURAL
from acf.plugins.scaffold import new_plugin

app = make_typer()


def describe_plugins(include_builtin: bool, hook: str | None = None) -> list[dict]:
    pm = load_plugins()
    reg = registry()
    rows = []
    for name, _plugin in pm.list_name_plugin():
        builtin = name in BUILTIN_PLUGINS
        if builtin and not include_builtin:
            continue
        hooks = hooks_of(name)
        if hook and hook not in hooks:
            continue
        dist, version = distribution(name)
        registered = reg.by_plugin(name)
        rows.append(
            {
                "name": name,
                "distribution": dist,
                "version": version,
                "builtin": builtin,
                "hooks": hooks,
                **{PLURAL[kind]: names for kind, names in registered.items()},
            }
        )
    return rows


@app.command("list")
def list_plugins(
    all_: bool = typer.Option(False, "--all", help="include the built-in plugins"),
    json_out: bool = typer.Option(False, "--json", help="print JSON"),
    hook: Optional[str] = typer.Option(None, "--hook", help="only plugins implementing this hook"),
) -> None:
    """List installed plugins (built-ins with --all)."""
    rows = describe_plugins(all_, hook)
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No plugins installed." + ("" if all_ else " (built-ins are shown with --all)"))
        return
    table = Table()
    for col in ("plugin", "version", "hooks", "registered"):
        table.add_column(col)
    for row in rows:
        registered = "; ".join(
            f"{kind.replace('_', ' ')}: {', '.join(row[kind])}" for kind in PLURAL.values() if row[kind]
        )
        table.add_row(row["name"], f"{row['distribution']} {row['version']}", ", ".join(row["hooks"]), registered)
    Console().print(table)


@app.command("new")
def new(
    name: str = typer.Argument(..., help="the plugin's name: package acf_plugin_NAME, distribution acf-plugin-NAME"),
    folder: Path = typer.Option(Path("."), "--dir", help="where to create acf-plugin-NAME/"),
) -> None:
    """Create a plugin project from acf's template (an example method, evaluator and tests)."""
    target = new_plugin(name, folder)
    typer.echo(
        f"Created {target}\nNext: pip install -e '{target}[test]' && acf plugins list && python -m pytest {target}"
    )
