"""`acf plugins list`: installed plugins, their versions, hooks and what each registered."""

from __future__ import annotations

import json
from typing import Optional

from pathlib import Path

import typer

from acf.cli import make_typer

app = make_typer()


def describe_plugins(include_builtin: bool, hook: str | None = None) -> list[dict]:
    from acf.plugins import BUILTIN_PLUGINS, PLURAL, distribution, hooks_of, load_plugins, registry

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
        rows.append({
            "name": name, "distribution": dist, "version": version, "builtin": builtin, "hooks": hooks,
            **{PLURAL[kind]: names for kind, names in registered.items()},
        })
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
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in ("plugin", "version", "hooks", "registered"):
        table.add_column(col)
    for row in rows:
        registered = "; ".join(
            f"{kind.replace('_', ' ')}: {', '.join(row[kind])}"
            for kind in ("methods", "evaluators", "searchers", "reward_presets", "model_aliases") if row[kind]
        )
        table.add_row(row["name"], f"{row['distribution']} {row['version']}", ", ".join(row["hooks"]), registered)
    Console().print(table)


@app.command("new")
def new(
    name: str = typer.Argument(..., help="the plugin's name: package acf_plugin_NAME, distribution acf-plugin-NAME"),
    folder: Path = typer.Option(Path("."), "--dir", help="where to create acf-plugin-NAME/"),
) -> None:
    """Create a plugin project from acf's template (an example method, evaluator and tests)."""
    from acf.scaffold import new_plugin

    target = new_plugin(name, folder)
    typer.echo(f"Created {target}\nNext: pip install -e '{target}[test]' && acf plugins list && python -m pytest {target}")
