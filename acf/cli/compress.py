"""`acf compress` and `acf resume`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from acf.cli.options import DEVICE, DTYPE, EVAL_OPTION, QUIET, TRUST_REMOTE_CODE, parse_eval_options, parse_weights


def register(app: typer.Typer) -> None:
    app.command("compress")(compress)
    app.command("resume")(resume)
    app.command("export")(export)


def compress(
    model: str = typer.Argument(..., help="alias (acf plugins list --all), local folder or Hub id"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="task to keep accurate on, e.g. gsm8k"),
    episodes: int = typer.Option(8, "--episodes", "-n", help="strategies to try"),
    searcher: str = typer.Option("nevergrad", help="nevergrad, random, grid or a plugin's"),
    seed: int = typer.Option(0, help="makes the search reproducible"),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="default: runs/<model>-<dataset>-<time>"),
    resume_run: bool = typer.Option(False, "--resume", help="continue the run in --run-dir"),
    constraint: list[str] = typer.Option([], "--constraint", "-c", help="hard constraint, e.g. 'size_mb<=100' or 'perplexity<=1.1*baseline'"),
    reward: str = typer.Option("balanced", help="reward preset: balanced, accuracy, latency, size"),
    weight: list[str] = typer.Option([], "--weight", help="custom weight METRIC=W (overrides the preset)"),
    objective: list[str] = typer.Option([], "--objective", help="frontier objective (repeat); default: task metric and size_mb"),
    method: list[str] = typer.Option([], "--method", "-m", help="restrict to these methods (repeat)"),
    max_steps: int = typer.Option(2, "--max-steps", help="longest pipeline of methods"),
    strategy: list[Path] = typer.Option([], "--strategy", help="JSON file of strategies to try first (repeat)"),
    evaluator: list[str] = typer.Option([], "--evaluator", "-e", help="cost evaluators (repeat); default: size, latency, memory"),
    limit: Optional[int] = typer.Option(None, help="task examples to score (task evaluator's 'limit')"),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="local task data (.jsonl/.json/.parquet/.arrow)"),
    eval_option: list[str] = EVAL_OPTION,
    promote: int = typer.Option(0, "--promote", help="after the search, re-score this many promising candidates at the task's full fidelity"),
    episode_budget: Optional[float] = typer.Option(None, "--episode-budget", help="most estimated seconds of compression per episode (default 30 on CPU, 900 on GPU)"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="wall-clock seconds one episode may take; past it the episode fails"),
    track: list[str] = typer.Option([], "--track", help="mirror the run into a tracker, e.g. mlflow (repeat)"),
    track_uri: Optional[str] = typer.Option(None, "--track-uri", help="tracking URI (default: MLFLOW_TRACKING_URI or ./mlruns)"),
    device: str = DEVICE,
    dtype: str = DTYPE,
    trust_remote_code: bool = TRUST_REMOTE_CODE,
    quiet: bool = QUIET,
    json_out: bool = typer.Option(False, "--json", help="print final results as JSON"),
) -> None:
    """Search for the best compressed versions of MODEL on a task."""
    import acf.api as api
    from acf.strategy import load_strategies

    given = [s.model_dump(mode="json") for path in strategy for s in load_strategies(path)]
    options = parse_eval_options(eval_option)
    task_options = options.setdefault(dataset, {})
    if limit is not None:
        task_options["limit"] = limit
    if data_path is not None:
        task_options["data_path"] = str(data_path)
    if not task_options:
        options.pop(dataset)
    result = api.compress(
        model, dataset, episodes=episodes, searcher=searcher, seed=seed, run_dir=run_dir, resume=resume_run,
        constraints=constraint, reward=reward, weights=parse_weights(weight), objectives=objective, methods=method,
        max_steps=max_steps, strategies=given, evaluators=evaluator, evaluator_options=options, episode_budget_s=episode_budget,
        episode_timeout_s=timeout, promote=promote, track=track, track_uri=track_uri,
        device=device, dtype=dtype,
        trust_remote_code=trust_remote_code, progress=not quiet,
    )
    _report(result, json_out)


def resume(
    run_dir: Path = typer.Argument(..., help="the run directory to continue"),
    quiet: bool = QUIET,
    json_out: bool = typer.Option(False, "--json", help="print final results as JSON"),
) -> None:
    """Continue a killed or interrupted run; finished episodes are kept, not re-run."""
    import acf.api as api

    _report(api.resume(run_dir, progress=not quiet), json_out)


def export(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    candidate: Optional[str] = typer.Option(None, "--candidate", help="episode id, e.g. ep003 (default: the recommended pick)"),
    out: Path = typer.Option(..., "--out", help="folder to write the Hugging Face model to"),
    quiet: bool = QUIET,
) -> None:
    """Write a candidate as a Hugging Face model folder (checked by reloading it)."""
    from acf.api import _reporter
    from acf.export import export_candidate

    folder = export_candidate(run_dir, candidate, out, progress=_reporter(not quiet))
    typer.echo(f"Exported to {folder} (reloaded with from_pretrained: same outputs)")


def _report(result, json_out: bool) -> None:
    from acf.cli.frontier import print_frontier
    from acf.store import read_json

    if json_out:
        import json

        typer.echo(json.dumps(read_json(result.run_dir / "final_results.json"), indent=2))
        return
    print_frontier(result)
    typer.echo(f"Run directory: {result.run_dir}")
