"""Every option of a run, declared once: name, type, default, help and command-line flags. `RunConfig` (the
pydantic model whose dump is `run_config.json`) and `SessionOptions` are built from this table, and `acf compress`'s
command line is generated from it (`acf.cli.options`).

Plain Python on purpose: the CLI reads it to build `acf --help` without importing pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acf.errors import AcfError

REQUIRED = ...


@dataclass(frozen=True)
class Option:
    """One option. `flags` are its command-line names (default `--name-with-dashes`); an `argument` is positional.

    `cli_type` is what the command line takes when it differs from the stored `type`, and `parse` names how that
    text becomes the stored value (`key_values`, `evaluator_options`, `strategy_files`: `acf.cli.options`).
    """

    name: str
    type: Any
    default: Any
    help: str
    flags: tuple[str, ...] = ()
    argument: bool = False
    cli_type: Any = None
    parse: str | None = None
    # True for an option that says where the search runs, not what it searches (the executor): a run may be
    # resumed with another value.
    placement: bool = False
    # True for an option of the measuring session (`SessionOptions`): what `Session` is built from.
    session: bool = False

    @property
    def flag(self) -> str:
        """The command-line flag the option is known by (its first)."""
        return self.flags[0] if self.flags else "--" + self.name.replace("_", "-")

    @property
    def command_line_flags(self) -> tuple[str, ...]:
        return self.flags or (self.flag,)

    @property
    def cli_default(self) -> Any:
        """What the command line starts from: an empty list for repeated (list or KEY=VALUE) options."""
        return [] if self.default in (list, dict) else self.default

    def value(self) -> Any:
        """The default value itself (a fresh list or dict for the factories)."""
        return self.default() if self.default in (list, dict) else self.default


def _run(name: str, type: Any, default: Any, help: str, *flags: str, **kw: Any) -> Option:
    return Option(name, type, default, help, flags=flags, **kw)


RUN_OPTIONS = (
    _run("model", str, REQUIRED, "alias (acf plugins list --all), local folder or Hub id", argument=True, session=True),
    _run("dataset", str, REQUIRED, "task to keep accurate on, e.g. gsm8k", "--dataset", "-d", session=True),
    _run("episodes", int, 8, "strategies to try", "--episodes", "-n"),
    _run(
        "searcher",
        str | None,
        None,
        "nevergrad, random, grid, agent or a plugin's (default: the searcher a plugin marks as the default: nevergrad)",
    ),
    _run("seed", int, 0, "makes the search reproducible", session=True),
    _run(
        "reward",
        str | None,
        None,
        "reward preset: balanced, accuracy, latency, size (default: the preset a plugin "
        "marks as the default: balanced)",
    ),
    _run(
        "weights",
        dict[str, float],
        dict,
        "custom weight METRIC=W (overrides the preset)",
        "--weight",
        cli_type=list[str],
        parse="key_values",
    ),
    _run("objectives", list[str], list, "frontier objective (repeat); default: task metric and size_mb", "--objective"),
    _run(
        "constraints",
        list[str],
        list,
        "hard constraint, e.g. 'size_mb<=100' or 'perplexity<=1.1*baseline'",
        "--constraint",
        "-c",
    ),
    _run("methods", list[str], list, "restrict to these methods (repeat)", "--method", "-m", session=True),
    _run("max_steps", int, 2, "longest pipeline of methods"),
    _run(
        "strategies",
        list[dict[str, Any]],
        list,
        "JSON file of strategies to try first, before the searcher's own (repeat)",
        "--strategy",
        cli_type=list[Path],
        parse="strategy_files",
    ),
    _run(
        "evaluators",
        list[str],
        list,
        "cost evaluators (repeat); default: size, latency, memory",
        "--evaluator",
        "-e",
        session=True,
    ),
    _run(
        "evaluator_options",
        dict[str, dict[str, Any]],
        dict,
        "EVALUATOR.OPTION=VALUE (repeat)",
        "--eval-option",
        cli_type=list[str],
        parse="evaluator_options",
        session=True,
    ),
    _run("promote", int, 0, "after the search, re-score this many promising candidates at the task's full fidelity"),
    _run(
        "episode_budget_s",
        float | None,
        None,
        "most estimated seconds of compression per episode (default 30 on CPU, 900 on GPU)",
        "--episode-budget",
        session=True,
    ),
    _run(
        "episode_timeout_s",
        float | None,
        None,
        "wall-clock seconds one episode may take; past it the episode fails",
        "--timeout",
    ),
    _run("track", list[str], list, "mirror the run into a tracker, e.g. mlflow (repeat)"),
    _run("track_uri", str | None, None, "tracking URI (default: MLFLOW_TRACKING_URI or ./mlruns)"),
    _run("device", str, "auto", "auto, cpu, cuda, cuda:1 …", session=True),
    _run("dtype", str, "auto", "auto, float32, bfloat16, float16", session=True),
    _run(
        "runtime",
        str,
        "auto",
        "where cost is measured: auto (a runtime native to each candidate's format, "
        "else the fallback runtime, hf, marked simulated), hf, llama.cpp, vllm or a plugin's (acf plugins list)",
        session=True,
    ),
    _run("trust_remote_code", bool, False, "allow the model's own code to run", session=True),
    _run(
        "llm_endpoint",
        str | None,
        None,
        "--searcher agent: an OpenAI-compatible chat endpoint "
        "(https://api.openai.com/v1, or a vLLM / llama.cpp / Ollama server's /v1); default: a local model",
    ),
    _run(
        "llm_model",
        str | None,
        None,
        "--searcher agent: the endpoint's model name, or the local chat model (alias or folder; default smollm2-135m)",
    ),
    _run(
        "llm_key_env",
        str,
        "OPENAI_API_KEY",
        "--searcher agent: the environment variable holding the endpoint's API key (never written anywhere)",
    ),
    _run(
        "executor",
        str,
        "local",
        "local (one candidate at a time, in this process) or ray (candidates in "
        "parallel on Ray workers: extra acf[ray])",
        placement=True,
    ),
    _run(
        "ray_address",
        str | None,
        None,
        "the Ray cluster to use (ray://HOST:10001, HOST:6379 or auto); "
        "default: the RAY_ADDRESS variable, else a local cluster started for the run",
        placement=True,
    ),
    _run(
        "workers", int, 2, "candidates in flight at once with --executor ray (one worker process each)", placement=True
    ),
    _run(
        "gpus_per_candidate", float, 0.0, "GPUs each Ray worker takes (0: CPU only; 1 on a GPU cluster)", placement=True
    ),
    _run(
        "cpus_per_candidate",
        float | None,
        None,
        "CPUs each Ray worker takes, and its torch threads (default: the Ray cluster's CPUs ÷ --workers)",
        placement=True,
    ),
    _run(
        "tell_order",
        str,
        "completion",
        "completion (the searcher learns each result as it arrives) or "
        "episode (in episode order: reproducible, slower when candidates differ in time)",
        placement=True,
    ),
)

# Options of the commands, not of the run: where it is written, how it is shown, and shorthands for the task's own
# evaluator options (`--limit N` is `--eval-option TASK.limit=N`; see `task_shorthands`).
COMMAND_OPTIONS = (
    _run("run_dir", Path | None, None, "default: runs/<model>-<dataset>-<time>", "--run-dir"),
    _run("resume", bool, False, "continue the run in --run-dir", "--resume"),
    _run("limit", int | None, None, "task examples to score (each task evaluator's 'limit' option)", "--limit"),
    _run(
        "data_path",
        Path | None,
        None,
        "local task data (.jsonl/.json/.parquet/.arrow) of the (single) task",
        "--data-path",
    ),
    _run("quiet", bool, False, "no progress output", "--quiet", "-q"),
    _run("json", bool, False, "print the results as JSON", "--json"),
)

OPTIONS = {o.name: o for o in RUN_OPTIONS}
COMMAND = {o.name: o for o in COMMAND_OPTIONS}
SESSION_OPTIONS = tuple(o for o in RUN_OPTIONS if o.session)
EXECUTORS = ("local", "ray")
TELL_ORDERS = ("completion", "episode")


def task_shorthands(
    options: dict[str, dict[str, Any]],
    tasks: list[str],
    *,
    limit: int | None = None,
    data_path: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """`--limit` and `--data-path` as the task evaluators' own options (`TASK.limit`, `TASK.data_path`): `limit` for
    every task named, `data_path` for the one task there must be. `tasks` may carry variants (`TASK:VARIANT`)."""
    names = list(dict.fromkeys(t.partition(":")[0] for t in tasks))
    out = {k: dict(v) for k, v in options.items()}
    if data_path is not None:
        if len(names) != 1:
            raise AcfError(f"{COMMAND['data_path'].flag} needs exactly one task, got {len(names)}")
        out.setdefault(names[0], {})["data_path"] = str(data_path)
    if limit is not None:
        for name in names:
            out.setdefault(name, {})["limit"] = limit
    return out
