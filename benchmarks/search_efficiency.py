"""How much of the true Pareto frontier each searcher finds with a fraction of the evaluations.

Run:
    python benchmarks/search_efficiency.py                # SmolLM2-135M: measure the space once (cached), replay
    python benchmarks/search_efficiency.py --synthetic    # a synthetic objective table: seconds, no model
    python benchmarks/search_efficiency.py --searchers agent,nevergrad,random --budgets 0.1,0.25 \
        --llm-endpoint https://api.openai.com/v1 --llm-model gpt-4o-mini   # the agent with a stronger LLM

A fixed candidate space (RTN and GPTQ × bits {2,3,4,8} × group {32, 64, per-channel} where valid, magnitude and
Wanda sparsity, magnitude → RTN chains) is evaluated exhaustively once — through acf's own `Run.measure`, so
every result lands in acf's evaluation cache and a rerun costs seconds — giving the true frontier and its
hypervolume (acf's normalised gains: the baseline is (1, 1), the reference point (0, 0)). Then each registered
searcher runs, through the same `Proposer` the episode loop uses (repeats and refusals cost no episode), with
budgets of 10%, 25% and 50% of the space over several seeds, reading scores from the table instead of
measuring. The table prints the median and range of found / true hypervolume, and the evaluations needed to
reach 95% of it (median over seeds, at the largest budget; "-" when a seed never got there).

The `agent` searcher is attached to a view of the replayed run (the model, the space, the results so far, the
frontier) exactly as acf's loop attaches it, and asks its LLM every few episodes — for real, each replay: by default
the local SmolLM2-135M-Instruct (constrained decoding, CPU), or any OpenAI-compatible endpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from acf.search.proposals import Proposer, point_key
from acf.types.frontier import hypervolume, pareto_indices
from acf.types.objectives import Metric, gain
from acf.types.space import Choice, Space

BITS = [2, 3, 4, 8]
SPARSITY = [0.25, 0.5, 0.75]
PIPELINES = ["rtn", "gptq", "magnitude", "wanda", "magnitude+rtn"]
ACCURACY = Metric(name="gsm8k_loglik", direction="max", category="accuracy")
SIZE = Metric(name="size_mb", direction="min", category="size")
OBJECTIVES = [ACCURACY, SIZE]
DEFAULT_TABLE = Path(__file__).parent / "results" / "search_space_smollm2.json"
# What the agent is told of the model on the synthetic table: SmolLM2-135M's shape (config.json only).
SYNTHETIC_MODEL = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
    "max_position_embeddings": 8192,
    "torch_dtype": "float32",
}
# The agent searcher's LLM (`--llm-endpoint`, `--llm-model`, `--llm-key-env`; default: the local model).
LLM = SimpleNamespace(llm_endpoint=None, llm_model=None, llm_key_env="OPENAI_API_KEY")


def candidate_space(groups: list[int]) -> Space:
    """The benchmark's finite space: every parameter a choice, conditional on the pipeline."""

    def when(*pipelines):
        return {"pipeline": list(pipelines)}

    return Space(
        params=[
            Choice(name="pipeline", options=PIPELINES, default="rtn"),
            Choice(name="rtn.bits", options=BITS, default=4, when=when("rtn", "magnitude+rtn")),
            Choice(name="rtn.group_size", options=groups, default=groups[0], when=when("rtn", "magnitude+rtn")),
            Choice(name="gptq.bits", options=BITS, default=4, when=when("gptq")),
            Choice(name="gptq.group_size", options=groups, default=groups[0], when=when("gptq")),
            Choice(name="magnitude.sparsity", options=SPARSITY, default=0.5, when=when("magnitude", "magnitude+rtn")),
            Choice(name="wanda.sparsity", options=SPARSITY, default=0.5, when=when("wanda")),
        ]
    )


# ---------------------------------------------------------------- the objective tables
def synthetic_table(space: Space) -> dict[str, Any]:
    """Plausible, deterministic scores: quantisation error halves per bit (GPTQ's is smaller), grows with the
    group size; sparsity costs quadratically; a little hash-seeded noise; size from bits per weight."""
    baseline = {ACCURACY.name: -1.0, SIZE.name: 538.0}
    entries = []
    for point in space.grid():
        methods = point["pipeline"].split("+")
        error, bits_per_weight = 0.0, 32.0
        for method in methods:
            if method in ("rtn", "gptq"):
                bits, group = point[f"{method}.bits"], point[f"{method}.group_size"]
                group_factor = 2.0 if group == -1 else 1.0 + group / 128
                error += (0.5 if method == "gptq" else 1.0) * 2.0 ** (2 - bits) * group_factor
                bits_per_weight = bits + (0 if group == -1 else 16 / group)
            else:
                error += (1.5 if method == "magnitude" else 0.8) * point[f"{method}.sparsity"] ** 2
        noise = int(hashlib.sha256(point_key(point).encode()).hexdigest()[:8], 16) / 2**32 - 0.5
        entries.append(
            {
                "point": point,
                "status": "ok",
                "values": {
                    ACCURACY.name: -1.0 - error * (1 + 0.05 * noise),
                    SIZE.name: 538.0 * (0.3 + 0.7 * bits_per_weight / 32),
                },
            }
        )
    return {"model": "synthetic", "baseline": baseline, "entries": entries}


def measured_table(model: str, run_dir: Path, limit: int) -> dict[str, Any]:
    """Measure every point of the space on `model` through acf (gsm8k loglik + size), using acf's cache."""
    from acf.search.pipelines import point_to_strategy
    from acf.session.session import Session

    session = Session(
        model,
        dataset="gsm8k",
        methods=["rtn", "gptq", "magnitude", "wanda"],
        evaluators=["size"],
        episode_budget_s=1e9,
        evaluator_options={"gsm8k": {"limit": limit}},
        work_dir=run_dir,
    )
    groups = [g for g in (32, 64, -1) if g in session.spec.valid_group_sizes]
    space = candidate_space(groups)
    baseline, _, _ = session.measure(None)
    entries = []
    points = space.grid()
    for i, point in enumerate(points, 1):
        started = time.time()
        try:
            strategy = session.validate(point_to_strategy(point))
            measured, cached, _ = session.measure(strategy)
            entry = {"point": point, "status": "ok", "values": {m.name: measured[m.name].value for m in OBJECTIVES}}
        except Exception as exc:  # a failing candidate is part of the space (the searcher must cope)
            entry, cached = {"point": point, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"}, False
        entries.append(entry)
        print(
            f"[{i}/{len(points)}] {point_key(point)} {entry.get('values', entry.get('reason'))} "
            f"{'cached' if cached else f'{time.time() - started:.0f} s'}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "model": model,
        "groups": groups,
        "limit": limit,
        "baseline": {m.name: baseline[m.name].value for m in OBJECTIVES},
        "entries": entries,
    }


# ---------------------------------------------------------------- replay
class Table:
    def __init__(self, data: dict[str, Any]):
        self.baseline = data["baseline"]
        self.entries = {point_key(e["point"]): e for e in data["entries"]}
        ok = [self.gains(e) for e in self.entries.values() if e["status"] == "ok"]
        self.true_hv = hypervolume([ok[i] for i in pareto_indices(ok)])

    def gains(self, entry) -> list[float]:
        return [gain(m, entry["values"][m.name], self.baseline[m.name]) for m in OBJECTIVES]

    def score(self, point) -> list[float] | None:
        entry = self.entries[point_key(point)]
        return [-g for g in self.gains(entry)] if entry["status"] == "ok" else None


class ReplayView:
    """What a searcher sees of a replayed run (`Searcher.attach`, as acf's loop gives it a `RunView`): the model,
    the space, the results so far and the frontier, built from the table; a proposed strategy is valid when the
    table's space holds it. The agent's rounds are kept in memory (each replay asks its LLM afresh)."""

    def __init__(self, space: Space, table: Table, data: dict[str, Any], budget: int, seed: int):
        from acf.models.spec import infer_spec
        from acf.plugins.manager import registry
        from acf.plugins.view import RunView
        from acf.session.resolve import read_config, resolve_model
        from acf.types.measurement import Measurement

        self.table, self.space = table, space
        self.baseline = {
            m.name: Measurement(value=v, low=v, high=v) for m, v in ((m, table.baseline[m.name]) for m in OBJECTIVES)
        }
        self.records: dict[int, dict[str, Any]] = {}
        self.view = RunView(
            spec=(
                infer_spec(SYNTHETIC_MODEL, source="synthetic")
                if data["model"] == "synthetic"
                else infer_spec(read_config(resolve_model(data["model"])), source=data["model"])
            ),
            space=space,
            methods={n: registry().get("method", n).description for n in ("rtn", "gptq", "magnitude", "wanda")},
            objectives=OBJECTIVES,
            constraints=[],
            baseline=self.baseline,
            episodes=budget,
            seed=seed,
            config=None,
            frontier=self.frontier,
            validate=self.validate,
            save_record=self.records.__setitem__,
            load_record=self.records.get,
        )

    def frontier(self):
        from acf.types.frontier import build_frontier

        return build_frontier(self.view.candidates, OBJECTIVES, self.baseline)

    def validate(self, raw: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        from acf.search.pipelines import strategy_to_point
        from acf.toolkit import normal_point
        from acf.types.strategy import Strategy

        try:
            point = normal_point(strategy_to_point(Strategy.model_validate(raw)))
        except Exception as exc:
            return None, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if point_key(point) not in self.table.entries:
            return None, "not in the benchmark's space (pipelines " + ", ".join(PIPELINES) + ")"
        return point, None

    def record(self, point: dict[str, Any], rationale: str | None) -> None:
        from acf.search.pipelines import point_to_strategy
        from acf.types.measurement import Measurement
        from acf.types.results import EpisodeResult

        entry = self.table.entries[point_key(point)]
        n = len(self.view.candidates) + 1
        result = EpisodeResult(
            id=f"ep_{n:04d}",
            episode=n,
            strategy=point_to_strategy(point),
            point=point,
            status=entry["status"],
            reason=entry.get("reason"),
            rationale=rationale,
            feasible=entry["status"] == "ok",
        )
        if entry["status"] == "ok":
            result.measurements = {k: Measurement(value=v, low=v, high=v) for k, v in entry["values"].items()}
            result.reward = statistics.fmean(self.table.gains(entry))  # for the frontier's pick; no searcher sees it
        self.view.candidates.append(result)


def replay(
    searcher_cls,
    space: Space,
    table: Table,
    budget: int,
    seed: int,
    data: dict[str, Any] | None = None,
    stats: dict[str, Any] | None = None,
) -> list[float]:
    """Hypervolume ratio (found / true) after each of `budget` episodes. With the table's `data`, the searcher is
    attached to a view of the replayed run (what the agent reads); its `summary()` is added to `stats`."""
    import inspect

    extra = {"config": LLM} if "config" in inspect.signature(searcher_cls).parameters else {}
    searcher = searcher_cls(space, num_objectives=len(OBJECTIVES), budget=budget, seed=seed, **extra)
    view = ReplayView(space, table, data, budget, seed) if data is not None else None
    if view is not None:
        searcher.attach(view.view)
    proposer = Proposer(searcher)
    found: list[list[float]] = []
    curve = []
    for _ in range(budget):
        point = proposer.ask()
        losses = table.score(point)
        proposer.tell(point, losses, 0.0)
        if view is not None:
            view.record(point, searcher.rationale(point))
        if losses is not None:
            found.append([-x for x in losses])
        curve.append(hypervolume([found[i] for i in pareto_indices(found)]) / table.true_hv if found else 0.0)
    if stats is not None:
        for key, value in (searcher.summary() or {}).get("agent", {}).items():
            if isinstance(value, (int, float)):
                stats[key] = stats.get(key, 0) + value
    return curve


def evaluations_to(curve: list[float], target: float) -> int | None:
    return next((i + 1 for i, r in enumerate(curve) if r >= target - 1e-12), None)


def benchmark(
    space: Space,
    table: Table,
    searchers: dict[str, Any],
    fractions: list[float],
    seeds: int,
    target: float = 0.95,
    data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    size = len(space.grid())
    rows = []
    for name, cls in searchers.items():
        for fraction in fractions:
            budget = max(1, math.ceil(fraction * size))
            started, stats = time.time(), {}
            curves = [replay(cls, space, table, budget, seed, data, stats) for seed in range(seeds)]
            finals = [c[-1] for c in curves]
            reached = [evaluations_to(c, target) for c in curves]
            row = {
                "searcher": name,
                "fraction": fraction,
                "budget": budget,
                "median": statistics.median(finals),
                "min": min(finals),
                "max": max(finals),
                "reached": reached,
                "seconds": round(time.time() - started, 1),
            }
            if stats:  # the agent's rounds over all seeds: proposed, invalid, run, fallbacks, tokens
                row["agent"] = stats
            rows.append(row)
            print(f"{name} {fraction:.0%}: median {row['median']:.3f} ({row['seconds']:.0f} s)", file=sys.stderr)
    return rows


def print_table(rows, size: int, target: float) -> None:
    print(f"| searcher | budget | hv ratio median | range | seeds ≥ {target:.2f} | evals to {target:.2f} (median) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        hits = [x for x in r["reached"] if x is not None]
        evals = f"{statistics.median(hits):g}" if len(hits) == len(r["reached"]) else "-"
        print(
            f"| {r['searcher']} | {r['fraction']:.0%} ({r['budget']}/{size}) | {r['median']:.3f} | "
            f"{r['min']:.3f}–{r['max']:.3f} | {len(hits)}/{len(r['reached'])} | {evals} |"
        )
    for r in rows:
        if "agent" in r:
            a = r["agent"]
            print(
                f"agent at {r['fraction']:.0%}, all seeds: {a.get('rounds', 0)} LLM rounds, {a.get('proposed', 0)} "
                f"strategies proposed, {a.get('invalid', 0)} invalid, {a.get('run', 0)} run (new to the search), "
                f"{a.get('fallbacks', 0)} rounds fell back to nevergrad, {r['seconds']:.0f} s"
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use a synthetic objective table (no model)")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="measured table to read or write")
    parser.add_argument("--remeasure", action="store_true", help="measure the table even if the file exists")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--limit", type=int, default=48, help="GSM8K items scored per candidate")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", default="0.1,0.25,0.5", help="fractions of the space")
    parser.add_argument("--searchers", default="", help="comma-separated; default: every registered searcher")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--llm-endpoint", help="the agent's OpenAI-compatible endpoint (default: the local model)")
    parser.add_argument("--llm-model", help="the agent's model: a served model's name, or a local alias/folder")
    parser.add_argument("--llm-key-env", default="OPENAI_API_KEY", help="environment variable holding the key")
    args = parser.parse_args(argv)
    LLM.llm_endpoint, LLM.llm_model, LLM.llm_key_env = args.llm_endpoint, args.llm_model, args.llm_key_env

    from acf.plugins.manager import registry

    if args.synthetic:
        space = candidate_space([32, 64, -1])
        data = synthetic_table(space)
    else:
        if args.remeasure or not args.table.exists():
            with tempfile.TemporaryDirectory() as tmp:
                data = measured_table(args.model, Path(tmp) / "run", args.limit)
            args.table.parent.mkdir(parents=True, exist_ok=True)
            args.table.write_text(json.dumps(data, indent=1))
        data = json.loads(args.table.read_text())
        space = candidate_space(data["groups"])
    table = Table(data)
    available = registry().all("searcher")
    names = [n for n in args.searchers.split(",") if n] or sorted(available)
    searchers = {n: registry().get("searcher", n) for n in names}
    fractions = [float(x) for x in args.budgets.split(",")]
    size = len(space.grid())
    ok = sum(e["status"] == "ok" for e in data["entries"])
    print(f"{data['model']}: {size} strategies ({ok} ok), true hypervolume {table.true_hv:.4f}, {args.seeds} seeds")
    started = time.time()
    rows = benchmark(space, table, searchers, fractions, args.seeds, data=data)
    print_table(rows, size, 0.95)
    print(f"replayed in {time.time() - started:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"size": size, "true_hypervolume": table.true_hv, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
