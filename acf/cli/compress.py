"""`acf compress` and `acf resume`."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer

from acf.cli.frontier import print_frontier
from acf.cli.options import (DEVICE, DTYPE, EVAL_OPTION, QUIET, RUNTIME, TRUST_REMOTE_CODE, parse_eval_options,
                             parse_weights)
from acf.errors import Interrupted
from acf.rundir.options import OPTIONS


def register(app: typer.Typer) -> None:
    app.command("compress")(compress)
    app.command("resume")(resume)
    app.command("export")(export)


def _opt(name: str, *flags: str) -> Any:
    """An option whose default and help text are the run option's (`acf.rundir.options`: declared once)."""
    return typer.Option(OPTIONS[name].cli_default, *flags, help=OPTIONS[name].help)


def compress(
    model: str = typer.Argument(..., help=OPTIONS["model"].help),
    dataset: str = typer.Option(..., "--dataset", "-d", help=OPTIONS["dataset"].help),
    episodes: int = _opt("episodes", "--episodes", "-n"),
    searcher: str = _opt("searcher", "--searcher"),
    seed: int = _opt("seed", "--seed"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="default: runs/<model>-<dataset>-<time>"),
    resume_run: bool = typer.Option(False, "--resume", help="continue the run in --run-dir"),
    constraint: list[str] = _opt("constraints", "--constraint", "-c"),
    reward: str = _opt("reward", "--reward"),
    weight: list[str] = _opt("weights", "--weight"),
    objective: list[str] = _opt("objectives", "--objective"),
    method: list[str] = _opt("methods", "--method", "-m"),
    max_steps: int = _opt("max_steps", "--max-steps"),
    strategy: list[Path] = typer.Option([], "--strategy", help="JSON file of strategies to try first (repeat)"),
    evaluator: list[str] = _opt("evaluators", "--evaluator", "-e"),
    limit: Optional[int] = typer.Option(None, help="task examples to score (task evaluator's 'limit')"),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="local task data (.jsonl/.json/.parquet/.arrow)"),
    eval_option: list[str] = EVAL_OPTION,
    promote: int = _opt("promote", "--promote"),
    episode_budget: Optional[float] = _opt("episode_budget_s", "--episode-budget"),
    timeout: Optional[float] = _opt("episode_timeout_s", "--timeout"),
    track: list[str] = _opt("track", "--track"),
    track_uri: Optional[str] = _opt("track_uri", "--track-uri"),
    device: str = DEVICE,
    dtype: str = DTYPE,
    runtime: str = RUNTIME,
    trust_remote_code: bool = TRUST_REMOTE_CODE,
    llm_endpoint: Optional[str] = _opt("llm_endpoint", "--llm-endpoint"),
    llm_model: Optional[str] = _opt("llm_model", "--llm-model"),
    llm_key_env: str = _opt("llm_key_env", "--llm-key-env"),
    executor: str = _opt("executor", "--executor"),
    ray_address: Optional[str] = _opt("ray_address", "--ray-address"),
    workers: int = _opt("workers", "--workers"),
    gpus_per_candidate: float = _opt("gpus_per_candidate", "--gpus-per-candidate"),
    tell_order: str = _opt("tell_order", "--tell-order"),
    quiet: bool = QUIET,
    json_out: bool = typer.Option(False, "--json", help="print final results as JSON"),
) -> None:
    """Search for the best compressed versions of MODEL on a task."""
    # imported here, not at the top: `acf --help` must not pay for pydantic and the API (≤ 0.3 s)
    import acf.api as api
    from acf.search.strategy import load_strategies

    given = [s.model_dump(mode="json") for path in strategy for s in load_strategies(path)]
    options = parse_eval_options(eval_option)
    task = dataset.partition(":")[0]  # TASK:VARIANT: the options belong to TASK
    task_options = options.setdefault(task, {})
    if limit is not None:
        task_options["limit"] = limit
    if data_path is not None:
        task_options["data_path"] = str(data_path)
    if not task_options:
        options.pop(task)
    with interruptible():
        result = api.compress(
            model, dataset, episodes=episodes, searcher=searcher, seed=seed, run_dir=run_dir, resume=resume_run,
            constraints=constraint, reward=reward, weights=parse_weights(weight), objectives=objective, methods=method,
            max_steps=max_steps, strategies=given, evaluators=evaluator, evaluator_options=options,
            episode_budget_s=episode_budget, episode_timeout_s=timeout, promote=promote, track=track,
            track_uri=track_uri, device=device, dtype=dtype, runtime=runtime, trust_remote_code=trust_remote_code,
            llm_endpoint=llm_endpoint, llm_model=llm_model, llm_key_env=llm_key_env,
            executor=executor, ray_address=ray_address, workers=workers, gpus_per_candidate=gpus_per_candidate,
            tell_order=tell_order, progress=not quiet,
        )
    _report(result, json_out)


def resume(
    run_dir: Path = typer.Argument(..., help="the run directory to continue"),
    executor: Optional[str] = typer.Option(None, "--executor", help="run it elsewhere: local or ray (default: as stored)"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=OPTIONS["ray_address"].help),
    workers: Optional[int] = typer.Option(None, "--workers", help=OPTIONS["workers"].help),
    quiet: bool = QUIET,
    json_out: bool = typer.Option(False, "--json", help="print final results as JSON"),
) -> None:
    """Continue a killed or interrupted run; finished episodes are kept, not re-run."""
    import acf.api as api

    where = {k: v for k, v in (("executor", executor), ("ray_address", ray_address), ("workers", workers)) if v is not None}
    with interruptible():
        result = api.resume(run_dir, progress=not quiet, **where)
    _report(result, json_out)


def export(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    candidate: Optional[str] = typer.Option(None, "--candidate", help="episode id, e.g. ep003 (default: the recommended pick)"),
    out: Path = typer.Option(..., "--out", help="folder to write the Hugging Face model to"),
    quiet: bool = QUIET,
) -> None:
    """Write a candidate as a Hugging Face model folder (checked by reloading it)."""
    import acf.api as api

    folder = api.export(run_dir, out, candidate=candidate, progress=not quiet)
    typer.echo(f"Exported to {folder} (reloaded with from_pretrained: same outputs)")


def _report(result, json_out: bool) -> None:
    from acf.rundir.files import read_json
    from acf.rundir.store import RunStore

    if json_out:
        typer.echo(json.dumps(read_json(RunStore(result.run_dir).final_path()), indent=2))
        return
    print_frontier(result)
    typer.echo(f"Run directory: {result.run_dir}")


@contextmanager
def interruptible():
    """Ctrl-C during a run: say where its finished episodes are and how to go on, exit 130 (typer would exit 130
    in silence)."""
    try:
        yield
    except Interrupted as exc:
        print(exc.message(), file=sys.stderr)
        raise typer.Exit(130) from None
