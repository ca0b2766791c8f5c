"""The Typer app: every acf app is made by one factory with shared settings."""

from __future__ import annotations

import typer


def make_typer(**kwargs) -> typer.Typer:
    """Every acf Typer app shares these settings."""
    kwargs.setdefault("no_args_is_help", True)
    return typer.Typer(pretty_exceptions_enable=False, add_completion=False, rich_markup_mode="rich", **kwargs)
