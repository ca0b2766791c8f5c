"""Cheap-first screening: does the cheap fidelity rank candidates as the full one does, and what does it save?

Run: python benchmarks/screening.py [--task commonsenseqa] [--subset 100] [--full-items 0] [--promote 4]

On SmolLM2-135M, 12 candidates (RTN bits {3, 4, 8} × group {32, 64, per-channel}, magnitude pruning 20/35/50%)
are scored by the task at its cheap fidelity (CommonsenseQA: the first `subset` questions) and at its full one
(the whole evaluation split), each timed by calling the evaluator directly (no cache). Prints both scores with their 95%
intervals, the Spearman rank correlation, and the evaluation time of "screen all, promote the top k" against
"evaluate all at full fidelity" — and whether the best full-fidelity candidate (or one tied with it within
noise) was among those promoted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

CANDIDATES = [
    *[[("rtn", {"bits": b, "group_size": g})] for b in (3, 4, 8) for g in (32, 64, -1)],
    *[[("magnitude", {"sparsity": s})] for s in (0.2, 0.35, 0.5)],
]


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="commonsenseqa")
    parser.add_argument("--subset", type=int, default=100, help="items of the cheap fidelity")
    parser.add_argument("--full-items", type=int, default=0, help="cap on the full fidelity's items (0: all)")
    parser.add_argument("--promote", type=int, default=4, help="candidates promoted in the screen-then-promote plan")
    args = parser.parse_args(argv)

    from acf.search.promotion import tied_ranking
    from acf.session.session import Session
    from acf.types.strategy import Step, Strategy

    options = {args.task: {"subset": args.subset, "limit": args.full_items}}
    with tempfile.TemporaryDirectory() as tmp:
        # timed with task.evaluate directly: no cache involved
        session = Session(
            "smollm2-135m",
            dataset=args.task,
            methods=["rtn", "magnitude"],
            evaluator_options=options,
            work_dir=Path(tmp),
        )
        task = session.dataset_evaluator
        cheap, full = task.fidelities[0], task.fidelities[-1]
        metric = task.primary_metric(full)
        _ = session.base_model  # load before timing
        rows = []
        for steps in CANDIDATES:
            strategy = session.validate(Strategy(steps=[Step(method=m, params=p) for m, p in steps]))
            model = session.apply(strategy)
            timed = {}
            for fidelity in (cheap, full):
                started = time.perf_counter()
                timed[fidelity] = (task.evaluate(model, session.ctx, fidelity)[metric], time.perf_counter() - started)
            rows.append((strategy.describe(), timed))
            print(f"{strategy.describe()}: {timed[cheap][0].value:.3f} / {timed[full][0].value:.3f}", flush=True)
            del model

    names = [r[0] for r in rows]
    cheap_scores = [r[1][cheap][0] for r in rows]
    full_scores = [r[1][full][0] for r in rows]
    rho = spearman([m.value for m in cheap_scores], [m.value for m in full_scores])
    t_cheap = sum(r[1][cheap][1] for r in rows)
    t_full = sum(r[1][full][1] for r in rows)
    by_cheap = sorted(range(len(rows)), key=lambda i: -cheap_scores[i].value)[: args.promote]
    plan = t_cheap + sum(rows[i][1][full][1] for i in by_cheap)
    top_group = tied_ranking({n: m for n, m in zip(names, full_scores)}, task.metrics_for(full)[0])[0]
    found = any(names[i] in top_group for i in by_cheap)

    print(f"\n| candidate | {cheap} ({cheap_scores[0].n} items) | {full} ({full_scores[0].n} items) |")
    print("|---|---|---|")
    for n, c, f in zip(names, cheap_scores, full_scores):
        print(f"| {n} | {c.value:.3f} [{c.low:.3f}, {c.high:.3f}] | {f.value:.3f} [{f.low:.3f}, {f.high:.3f}] |")
    print(f"\nSpearman rank correlation (cheap vs full, {len(rows)} candidates): {rho:.3f}")
    print(
        f"evaluation time: all at {full} {t_full:.0f} s; screen all at {cheap} ({t_cheap:.0f} s) + promote "
        f"{args.promote} = {plan:.0f} s ({plan / t_full:.0%}, saves {t_full - plan:.0f} s)"
    )
    print(f"best at {full} (tied within noise: {', '.join(top_group)}) among the promoted: {'yes' if found else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
