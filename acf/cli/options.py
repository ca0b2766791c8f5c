"""Command-line options made from their declarations (`acf.types.options`): a command's parameters are generated,
never written out again, and the text some options take is parsed into the values a run stores."""

from __future__ import annotations

import inspect
import types
from pathlib import Path
from typing import Any, Callable, Optional, Union

import typer

from acf.errors import AcfError
from acf.types.options import COMMAND, OPTIONS, REQUIRED, Option


def parse_weights(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep or not key:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise AcfError(f"{OPTIONS['weights'].flag} expects METRIC=NUMBER, got {item!r}") from None
    return out


def parse_eval_options(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        evaluator, dot, option = key.partition(".")
        if not sep or not dot or not evaluator or not option:
            raise AcfError(f"{OPTIONS['evaluator_options'].flag} expects EVALUATOR.OPTION=VALUE, got {item!r}")
        out.setdefault(evaluator.strip(), {})[option.strip()] = value
    return out


def parse_strategy_files(paths: list[Path]) -> list[dict[str, Any]]:
    """Every strategy of each JSON file, checked (imported when used: `acf --help` needs no pydantic)."""
    from acf.types.strategy import load_strategies

    return [s.model_dump(mode="json") for path in paths for s in load_strategies(path)]


PARSERS: dict[str, Callable[[Any], Any]] = {
    "key_values": parse_weights,
    "evaluator_options": parse_eval_options,
    "strategy_files": parse_strategy_files,
}


def cli_annotation(option: Option) -> Any:
    """The type Typer parses: the command line's own where it differs, `Optional[X]` for `X | None`."""
    kind = option.cli_type or option.type
    if isinstance(kind, types.UnionType):
        args = [a for a in kind.__args__ if a is not type(None)]
        return Optional[Union[tuple(args)]] if len(args) < len(kind.__args__) else kind
    return kind


def parameter(option: Option, *, default: Any = REQUIRED, help: str | None = None) -> Any:
    """A Typer option (or argument) for a declared option; `default` overrides its own (`acf resume`: None,
    meaning "as the run stored it")."""
    value = option.cli_default if default is REQUIRED else default
    text = option.help if help is None else help
    if option.argument:
        return typer.Argument(... if value is REQUIRED else value, help=text)
    return typer.Option(... if value is REQUIRED else value, *option.command_line_flags, help=text)


def generated(names: list[str], *, defaults: dict[str, Any] | None = None) -> Callable[[Callable], Callable]:
    """Give a command `def command(..., **values)` one parameter per declared option in `names` (run options, then
    the commands' own), after its own parameters, with the declaration's flags, type, default and help: Typer reads
    the signature."""
    declared = [OPTIONS.get(n) or COMMAND[n] for n in names]

    def decorate(func: Callable) -> Callable:
        own = [p for p in inspect.signature(func).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params = own + [
            inspect.Parameter(
                o.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=cli_annotation(o),
                default=parameter(o, default=(defaults or {}).get(o.name, REQUIRED)),
            )
            for o in declared
        ]
        func.__signature__ = inspect.Signature(params)
        func.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not inspect.Parameter.empty}
        return func

    return decorate


def run_values(values: dict[str, Any]) -> dict[str, Any]:
    """The command line's values of run options as the run stores them (KEY=VALUE text and files parsed)."""
    out = {}
    for name, value in values.items():
        option = OPTIONS.get(name)
        if option is not None:
            out[name] = PARSERS[option.parse](value) if option.parse else value
    return out
