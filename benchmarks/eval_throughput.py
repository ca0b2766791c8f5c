"""acf's evaluators against lm-eval's HF backend on the same documents and model, and against raw forward speed.

Run: python benchmarks/eval_throughput.py [--mc-items 200] [--gen-items 16] [--gen-tokens 96] [--batch 8]

- log-likelihood (CommonsenseQA, the offline validation split): acf's `commonsenseqa` evaluator (shared-context
  choice scoring) vs lm-eval `multiple_choice` with a task YAML reading the same records from a local file, with
  the same prompt and choices. Goal: ≥ 2× lm-eval's speed, same accuracy (within noise).
- generation (GSM8K, 8-shot, greedy, same prompts and stop strings): acf's `gsm8k` generate fidelity vs lm-eval
  `generate_until`; both outputs scored by acf's answer extraction. Goal: ≥ 1×.
- raw forward: tokens/s of plain batched forward passes of the model ([batch, 256] random ids, logits of the
  last position only) — the physical limit here; acf's log-likelihood throughput is the tokens it fed through
  the model per second. Goal: ≥ 80% of it.
Both sides run in this process, one after the other, on the same loaded model; the table prints wall times and ratios.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

CSQA_YAML = """task: acf_csqa
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question.strip()}}}}\\nAnswer:"
doc_to_choice: "{{{{choices.text}}}}"
doc_to_target: "{{{{choices.label.index(answerKey)}}}}"
target_delimiter: " "
metric_list:
  - metric: acc
  - metric: acc_norm
"""

GEN_YAML = """task: acf_gsm8k_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
test_split: test
output_type: generate_until
doc_to_text: "{{{{prompt}}}}"
doc_to_target: "{{{{answer}}}}"
target_delimiter: " "
generation_kwargs:
  until: ["Question:", "\\n\\n"]
  max_gen_toks: {tokens}
  do_sample: false
metric_list:
  - metric: exact_match
"""


def lm_eval_run(model, tok, folder: Path, task: str, batch: int):
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch, device="cpu")
    started = time.perf_counter()
    out = simple_evaluate(model=lm, tasks=[task], task_manager=TaskManager(include_path=str(folder)), log_samples=True,
                          bootstrap_iters=0, verbosity="ERROR")
    return time.perf_counter() - started, out


def raw_forward_tps(model, batch: int, length: int = 256, repeats: int = 3) -> float:
    import torch

    ids = torch.randint(0, model.get_input_embeddings().weight.shape[0], (batch, length))
    with torch.inference_mode():
        model(input_ids=ids, use_cache=False, logits_to_keep=1)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
    return batch * length * repeats / (time.perf_counter() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mc-items", type=int, default=200)
    parser.add_argument("--gen-items", type=int, default=16)
    parser.add_argument("--gen-tokens", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8, help="lm-eval's batch size")
    args = parser.parse_args(argv)

    import torch

    from acf.context import Context
    from acf.models.loading import load_model, load_tokenizer
    from acf.models.resolve import read_config, resolve_model
    from acf.models.spec import infer_spec
    from acf_plugins_builtin.evaluators.commonsenseqa import CommonsenseQA
    from acf_plugins_builtin.evaluators.gsm8k import GSM8K, clean_solution, final_answer, prompt
    from acf_plugins_builtin.evaluators.scoring import split_pair

    torch.manual_seed(0)
    resolved = resolve_model("smollm2-135m")
    spec = infer_spec(read_config(resolved), source="smollm2-135m", path=str(resolved.path))
    model, tok = load_model(resolved.path), load_tokenizer(resolved.path)
    ctx = Context(spec=spec, load_tokenizer=lambda: tok)
    folder = Path(tempfile.mkdtemp(prefix="acf-evalbench-"))
    rows = []

    # ---- log-likelihood: CommonsenseQA
    records = CommonsenseQA().load(ctx)[: args.mc_items]
    (folder / "csqa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "acf_csqa.yaml").write_text(CSQA_YAML.format(path=folder / "csqa.jsonl"))
    ours = CommonsenseQA(subset=args.mc_items, data_path=str(folder / "csqa.jsonl"))
    ours._split = lambda ctx: (records, [])  # score all of them (no calibration hold-out), as lm-eval does
    started = time.perf_counter()
    acf_mc = ours.evaluate(model, ctx, "subset")
    acf_mc_s = time.perf_counter() - started
    fed = 0
    for context, choices, _ in ours.items_for(ctx, "subset"):
        pairs = [split_pair(tok, context, c) for c in choices]
        fed += len(pairs[0][0]) + sum(len(c) for _, c in pairs)
    lm_mc_s, lm_out = lm_eval_run(model, tok, folder, "acf_csqa", args.batch)
    lm_acc = lm_out["results"]["acf_csqa"]["acc,none"]
    rows.append(("CommonsenseQA log-likelihood", len(records), acf_mc_s, lm_mc_s,
                 f"acc {acf_mc['commonsenseqa_acc'].value:.3f} [{acf_mc['commonsenseqa_acc'].low:.3f}, "
                 f"{acf_mc['commonsenseqa_acc'].high:.3f}] vs {lm_acc:.3f}"))

    # ---- generation: GSM8K
    gsm = GSM8K(limit=args.gen_items, max_new_tokens=args.gen_tokens)
    gsm.prepare(ctx)
    items, held_out = ctx.cache["gsm8k:data"]
    shots = "".join(f"{prompt(r['question'])} {clean_solution(r['answer'])}\n\n" for r in held_out[:8])
    gen_rows = [{"prompt": shots + prompt(r["question"]), "answer": r["answer"]} for r in items[: args.gen_items]]
    (folder / "gen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gen_rows))
    (folder / "acf_gsm8k_gen.yaml").write_text(GEN_YAML.format(path=folder / "gen.jsonl", tokens=args.gen_tokens))
    started = time.perf_counter()
    acf_gen = gsm.evaluate(model, ctx, "generate")["gsm8k_accuracy"]
    acf_gen_s = time.perf_counter() - started
    lm_gen_s, lm_out = lm_eval_run(model, tok, folder, "acf_gsm8k_gen", args.batch)
    responses = [s["filtered_resps"][0] for s in sorted(lm_out["samples"]["acf_gsm8k_gen"], key=lambda s: s["doc_id"])]
    lm_correct = sum(final_answer(out) == final_answer(r["answer"]) for out, r in zip(responses, gen_rows))
    rows.append(("GSM8K 8-shot generation", len(gen_rows), acf_gen_s, lm_gen_s,
                 f"acc {acf_gen.value:.3f} vs {lm_correct / len(gen_rows):.3f}"))

    raw = raw_forward_tps(model, args.batch)
    print("| evaluation | items | acf s | lm-eval s | speed-up | scores (acf vs lm-eval) |")
    print("|---|---|---|---|---|---|")
    for name, n, a, b, scores in rows:
        print(f"| {name} | {n} | {a:.1f} | {b:.1f} | {b / a:.2f}× | {scores} |")
    print(f"\nraw forward: {raw:.0f} tokens/s ([{args.batch}, 256], last-position logits); acf fed {fed} tokens "
          f"through the model for CommonsenseQA in {acf_mc_s:.1f} s = {fed / acf_mc_s:.0f} tokens/s "
          f"({fed / acf_mc_s / raw:.0%} of raw)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
