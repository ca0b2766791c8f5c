"""Parsing of repeated KEY=VALUE command-line options."""

from __future__ import annotations

from typing import Any

import typer

from acf.errors import AcfError
from acf.rundir.options import OPTIONS

# Options several commands share (one definition, one help text).
EVAL_OPTION = typer.Option([], "--eval-option", help="EVALUATOR.OPTION=VALUE (repeat)")
DEVICE = typer.Option(OPTIONS["device"].default, help=OPTIONS["device"].help)
DTYPE = typer.Option(OPTIONS["dtype"].default, help=OPTIONS["dtype"].help)
RUNTIME = typer.Option(OPTIONS["runtime"].default, "--runtime", help=OPTIONS["runtime"].help)
TRUST_REMOTE_CODE = typer.Option(False, "--trust-remote-code", help=OPTIONS["trust_remote_code"].help)
QUIET = typer.Option(False, "--quiet", "-q", help="no progress output")


def parse_weights(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise AcfError(f"--weight expects METRIC=NUMBER, got {item!r}") from None
    return out


def parse_eval_options(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        evaluator, dot, option = key.partition(".")
        if not sep or not dot or not evaluator or not option:
            raise AcfError(f"--eval-option expects EVALUATOR.OPTION=VALUE, got {item!r}")
        out.setdefault(evaluator.strip(), {})[option.strip()] = value
    return out
