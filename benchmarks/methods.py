"""Compression methods on SmolLM2-135M: quality, size, wall time, and acf's overhead over the backend library.

Run: python benchmarks/methods.py [--samples 32] [--seq-len 256] [--only gptq-w4,nf4] [--autoround]

For each setting the script applies the method twice to fresh copies of the model — once through acf's
method plugin (calibration from the task's held-out split, as in a run) and once by calling the backend
library directly on the same calibration ids — and prints perplexity on a fixed text set (40 held-out GSM8K
solutions, never used for calibration), deployed size, both wall times and their ratio (goal: ≤ 1.03).
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path


def setup(samples: int, seq_len: int):
    import torch

    from acf.models.loading import load_model, load_tokenizer
    from acf.models.spec import infer_spec
    from acf.plugins.context import Context
    from acf.session.resolve import read_config, resolve_model
    from acf_plugins_builtin.evaluators.tasks.gsm8k import GSM8K, clean_solution, prompt
    from acf_plugins_builtin.methods.calibration import calibration_ids

    torch.manual_seed(0)
    resolved = resolve_model("smollm2-135m")
    spec = infer_spec(read_config(resolved), source="smollm2-135m", path=str(resolved.path))
    tok = load_tokenizer(resolved.path)
    base = load_model(resolved.path)
    task = GSM8K()
    ctx = Context(spec=spec, load_tokenizer=lambda: tok, load_teacher=lambda: base)
    ctx.load_calibration = lambda n: task.calibration_texts(ctx, n)
    task.prepare(ctx)
    held_out = ctx.memo["gsm8k:data"][1]
    # evaluation texts: the last 40 held-out items, calibration takes the first `samples`
    corpus = Path(tempfile.mkdtemp()) / "texts.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"text": f"{prompt(r['question'])} {clean_solution(r['answer'])}"}) + "\n"
            for r in held_out[-40:]
        )
    )
    ids = calibration_ids(ctx, samples, seq_len)
    return resolved.path, spec, tok, base, ctx, corpus, ids


def direct_llmcompressor(recipe_factory, ids, seq_len):
    def run(model):
        from datasets import Dataset
        from llmcompressor import oneshot

        ds = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]})
        oneshot(
            model=model,
            dataset=ds,
            recipe=recipe_factory(),
            num_calibration_samples=len(ids),
            max_seq_length=seq_len,
            shuffle_calibration_samples=False,
        )
        return model

    return run


def scheme(bits, group, symmetric=True):
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    args = QuantizationArgs(num_bits=bits, type="int", symmetric=symmetric, strategy="group", group_size=group)
    return {"group_0": QuantizationScheme(targets=["Linear"], weights=args)}


def settings(spec, samples, seq_len, ids, path, autoround):
    from llmcompressor.modifiers.pruning import SparseGPTModifier, WandaPruningModifier
    from llmcompressor.modifiers.quantization import GPTQModifier

    g = max(x for x in spec.valid_group_sizes if x > 0)
    cal = {"samples": samples, "seq_len": seq_len}
    gptq = {"symmetric": True, "dampening": 0.01, "actorder": "static", **cal}

    def bnb_direct(config):
        def run(_model):
            from transformers import AutoModelForCausalLM

            return AutoModelForCausalLM.from_pretrained(path, quantization_config=config(), device_map={"": "cpu"})

        return run

    def nf4_config():
        import torch
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
        )

    def int8_config():
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(load_in_8bit=True)

    rows = [
        ("rtn W4 g%d" % g, "rtn", {"bits": 4, "group_size": g, "symmetric": True}, None),
        (
            "gptq W4 g%d" % g,
            "gptq",
            {"bits": 4, "group_size": g, **gptq},
            direct_llmcompressor(
                lambda: GPTQModifier(config_groups=scheme(4, g), ignore=["lm_head"], dampening_frac=0.01), ids, seq_len
            ),
        ),
        (
            "gptq W3 g%d" % g,
            "gptq",
            {"bits": 3, "group_size": g, **gptq},
            direct_llmcompressor(
                lambda: GPTQModifier(config_groups=scheme(3, g), ignore=["lm_head"], dampening_frac=0.01), ids, seq_len
            ),
        ),
        (
            "gptq W8 g%d" % g,
            "gptq",
            {"bits": 8, "group_size": g, **gptq},
            direct_llmcompressor(
                lambda: GPTQModifier(config_groups=scheme(8, g), ignore=["lm_head"], dampening_frac=0.01), ids, seq_len
            ),
        ),
        ("int8 (LLM.int8)", "int8", {"threshold": 6.0}, bnb_direct(int8_config)),
        ("nf4 double-quant", "nf4", {"quant_type": "nf4", "double_quant": True}, bnb_direct(nf4_config)),
        (
            "wanda 50%",
            "wanda",
            {"mask": "unstructured", "sparsity": 0.5, **cal},
            direct_llmcompressor(
                lambda: WandaPruningModifier(
                    sparsity=0.5, mask_structure="0:0", targets=["Linear"], ignore=["lm_head"]
                ),
                ids,
                seq_len,
            ),
        ),
        (
            "sparsegpt 2:4",
            "sparsegpt",
            {"mask": "2:4", "dampening": 0.01, **cal},
            direct_llmcompressor(
                lambda: SparseGPTModifier(
                    sparsity=0.5, mask_structure="2:4", dampening_frac=0.01, targets=["Linear"], ignore=["lm_head"]
                ),
                ids,
                seq_len,
            ),
        ),
        ("structured 25% MLP", "structured", {"mlp_ratio": 0.25, "kv_groups": 0}, None),
        ("structured 12.5% hidden", "structured", {"mlp_ratio": 0.0, "hidden_ratio": 0.125}, None),
        ("layer_drop 3 layers", "layer_drop", {"layers": 3, "samples": 32}, None),
    ]
    if autoround:
        rows.append(
            (
                "autoround W4 g%d (50 iters)" % g,
                "autoround",
                {"bits": 4, "group_size": g, "symmetric": True, "iters": 50, "samples": samples, "seq_len": seq_len},
                None,
            )
        )
    return rows


def warm_up(base, ids, seq_len) -> None:
    """One small untimed oneshot so that neither timed call pays llm-compressor's first-use imports."""
    from llmcompressor.modifiers.quantization import GPTQModifier

    direct_llmcompressor(lambda: GPTQModifier(config_groups=scheme(4, 32), ignore=["lm_head"]), ids[:2], 32)(
        copy.deepcopy(base)
    )


def main() -> None:
    from acf_plugins_builtin.methods.llmc import quiet_llmcompressor

    quiet_llmcompressor()  # the direct calls log as quietly as acf's
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=32, choices=[32, 64, 128])
    parser.add_argument("--seq-len", type=int, default=256, choices=[256, 512])
    parser.add_argument("--only", default="", help="comma-separated labels' first words, e.g. gptq,nf4")
    parser.add_argument("--autoround", action="store_true", help="include AutoRound (≈ 8 minutes on 2 cores)")
    args = parser.parse_args()

    from acf.plugins.context import Records
    from acf.plugins.manager import registry
    from acf_plugins_builtin.evaluators.costs.size import Size
    from acf_plugins_builtin.evaluators.tasks.perplexity import Perplexity

    path, spec, tok, base, ctx, corpus, ids = setup(args.samples, args.seq_len)
    ppl = Perplexity(data_path=str(corpus), limit=40, variant="acf")
    size = Size()
    methods = registry().all("method")
    warm_up(base, ids, args.seq_len)
    print(f"SmolLM2-135M, calibration {len(ids)} × ≤{args.seq_len} tokens, perplexity on 40 held-out GSM8K solutions")
    header = f"{'setting':28} {'perplexity':>10} {'size MB':>8} {'acf s':>8} {'direct s':>8} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    base_ppl = ppl.evaluate(base, ctx, "full")["perplexity"].value
    print(
        f"{'fp32 baseline':28} {base_ppl:10.2f} {size.evaluate(base, ctx, 'full')['size_mb'].value:8.1f} "
        f"{'-':>8} {'-':>8} {'-':>6}"
    )
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    for label, method, params, direct in settings(spec, args.samples, args.seq_len, ids, path, args.autoround):
        if only and label.split()[0] not in only:
            continue
        plugin = methods[method]()
        params = plugin.space(spec).validate_values(params)  # defaults filled in, as in a run
        ctx.records = Records()  # this setting's tensor formats only, as a run starts each candidate afresh
        t0 = time.perf_counter()
        model = plugin.apply(copy.deepcopy(base), params, ctx)
        acf_s = time.perf_counter() - t0
        direct_s = None
        if direct is not None:
            t0 = time.perf_counter()
            direct(copy.deepcopy(base))
            direct_s = time.perf_counter() - t0
        value = ppl.evaluate(model, ctx, "full")["perplexity"].value
        mb = size.evaluate(model, ctx, "full")["size_mb"].value
        ratio = f"{acf_s / direct_s:6.3f}" if direct_s else f"{'n/a':>6}"
        direct_text = f"{direct_s:8.1f}" if direct_s else f"{'-':>8}"
        print(f"{label:28} {value:10.2f} {mb:8.1f} {acf_s:8.1f} {direct_text} {ratio}", flush=True)
        del model


if __name__ == "__main__":
    main()
