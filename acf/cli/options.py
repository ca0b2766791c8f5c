"""Parsing of repeated KEY=VALUE command-line options."""

from __future__ import annotations

from typing import Any

from acf.errors import AcfError


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
