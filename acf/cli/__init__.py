"""The `acf` command: one Typer sub-app per command group, joined here; plugins may add more."""

from __future__ import annotations

import os
import sys

import typer

from acf.cli import compress, eval, frontier, plugins, report, runs, spec
from acf.cli.app import make_typer
from acf.cli.quiet import say_each_once
from acf.errors import AcfError
from acf.plugins.manager import load_plugins


def build_app() -> typer.Typer:
    app = make_typer(help="acf, the Agentic Compression Framework: find the best compressed versions of a causal LM.")
    compress.register(app)
    eval.register(app)
    report.register(app)
    spec.register(app)
    app.add_typer(frontier.app, name="frontier", help="Show a run's Pareto frontier.")
    app.add_typer(plugins.app, name="plugins", help="List installed plugins.")
    app.add_typer(runs.app, name="runs", help="List runs under a folder.")
    pm = load_plugins()
    pm.hook.register_commands(app=app)
    return app


def main() -> None:
    say_each_once()
    debug = bool(os.environ.get("ACF_DEBUG"))
    try:
        app = build_app()
        app(standalone_mode=True)
    except AcfError as exc:
        if debug:
            raise
        print(f"Error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        print("  (set ACF_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # outside a command (typer turns one inside into exit 130: see `interruptible`)
        print("Interrupted", file=sys.stderr)
        sys.exit(130)
