"""Every hook acf calls. Implement them in a plugin with `from acf import hookimpl`.

Each `register_*` hook is called once when acf builds its registry (lazily, the first time a method,
evaluator, searcher, preset, alias, tracker or runtime is looked up). `register` takes the thing to add;
registering a name another plugin already registered for the same kind raises `PluginCollisionError` naming both
plugins.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("acf")
hookimpl = pluggy.HookimplMarker("acf")


@hookspec
def register_methods(register: Callable[[type], None]) -> None:
    """Add compression methods.

    :param register: call it with each `acf.Method` subclass (its `name` must be unique).
    """


@hookspec
def register_evaluators(register: Callable[[type], None]) -> None:
    """Add evaluators (tasks, perplexity, cost metrics).

    :param register: call it with each `acf.Evaluator` subclass. Task evaluators become valid
        `--dataset` values.
    """


@hookspec
def register_searchers(register: Callable[[type], None]) -> None:
    """Add searchers.

    :param register: call it with each `acf.Searcher` subclass; `--searcher NAME` selects one.
    """


@hookspec
def register_reward_presets(register: Callable[[type], None]) -> None:
    """Add reward presets.

    :param register: call it with each `acf.RewardPreset` subclass; `--reward NAME` selects one.
    """


@hookspec
def register_model_aliases(register: Callable[[Any], None]) -> None:
    """Add short model names.

    :param register: call it with each `acf.ModelAlias` instance, e.g.
        `register(ModelAlias(name="llama3", hub_id="meta-llama/Meta-Llama-3-8B-Instruct"))`.
        A subclass may override `resolve()` to build a local folder (as `smollm2-135m` does).
    """


@hookspec
def register_trackers(register: Callable[[type], None]) -> None:
    """Add experiment trackers (MLflow ships built in).

    :param register: call it with each `acf.Tracker` subclass; `--track NAME` turns one on for a run. A
        tracker hears the run start, every finished episode and the end of the run; its errors are warnings,
        never a failed run.
    """


@hookspec
def register_runtimes(register: Callable[[type], None]) -> None:
    """Add runtimes: where candidates' cost (latency, throughput, memory, energy) is measured.

    :param register: call it with each `acf.Runtime` subclass; `--runtime NAME` measures every candidate on
        it, `--runtime auto` picks per candidate one that runs its format natively.
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add CLI commands or command groups.

    Called each time the `acf` CLI starts, before arguments are parsed; keep it cheap (no torch import).

    :param app: the root `typer.Typer`; add commands with `@app.command()` or groups with
        `app.add_typer(...)`. Never reach into Typer's vendored Click.
    """
