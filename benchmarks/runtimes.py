"""Deployment-true cost: each format of SmolLM2-135M measured on the runtime acf picks for it (`--runtime auto`),
all in one run: prefill and decode tokens/s (batch 1), peak memory, size, runtime and whether it is simulated.

Run: python benchmarks/runtimes.py [--model smollm2-135m] [--prompt-len 128] [--new-tokens 32] [--repeats 5]
                                   [--only fp32,gguf-Q4_K_M] [--json PATH]

Every row is measured afresh (an empty evaluation cache). Rows: fp32 and bf16 (hf, native), bitsandbytes int8
and nf4 (hf, native where bitsandbytes runs), GGUF Q8_0 /
Q4_K_M / Q3_K_M (llama.cpp, native), GPTQ W4 g64 and RTN W4 g64 (no runtime here runs them: hf, simulated).
`size_mb` is the size evaluator's: the bytes of the candidate's checkpoint on disk (its Hugging Face folder's
weights and configuration, or its GGUF file); `size_check` says whether the size computed from the recorded
formats agrees with the checkpoint's tensors within 2% (else the evaluator's note). The ratio columns are against
fp32's, measured in the same run. After each GGUF row, a `llama-cpp-python-direct` row times the same file with
llama-cpp-python called directly in this process (its own `Llama.generate`, greedy, the same prompt length and new
tokens), interleaved with acf's llama.cpp deployment of the file: `vs direct` is acf's interleaved figure over the
direct one (1.00: acf measures what the library does).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROWS = {  # name → (dtype, strategy steps)
    "fp32": ("float32", []),
    "bf16": ("bfloat16", []),
    "bnb-int8": ("float32", [("int8", {"threshold": 6.0})]),
    "bnb-nf4": ("float32", [("nf4", {"quant_type": "nf4", "double_quant": True})]),
    "gguf-Q8_0": ("float32", [("gguf", {"type": "Q8_0"})]),
    "gguf-Q4_K_M": ("float32", [("gguf", {"type": "Q4_K_M"})]),
    "gguf-Q3_K_M": ("float32", [("gguf", {"type": "Q3_K_M"})]),
    "gptq-w4g64": (
        "float32",
        [
            (
                "gptq",
                {
                    "bits": 4,
                    "group_size": 64,
                    "symmetric": True,
                    "dampening": 0.01,
                    "actorder": "static",
                    "samples": 32,
                    "seq_len": 256,
                },
            )
        ],
    ),
    "rtn-w4g64": ("float32", [("rtn", {"bits": 4, "group_size": 64, "symmetric": True})]),
}


def measure(model: str, dtype: str, steps, args) -> dict:
    from acf.rundir.cache import EvalCache
    from acf.session.session import Session
    from acf.types.strategy import Step, Strategy

    options = {
        "latency": {"prompt_len": args.prompt_len, "new_tokens": args.new_tokens, "repeats": args.repeats},
        "memory": {"prompt_len": args.prompt_len},
    }
    session = Session(
        model,
        dataset="gsm8k",
        evaluators=["latency", "memory", "size"],
        evaluator_options=options,
        methods=sorted({m for m, _ in steps}) or ["rtn"],
        dtype=dtype,
        device="cpu",
        runtime="auto",
        episode_budget_s=3600,
        cache=EvalCache(Path(tempfile.mkdtemp(prefix="acf-runtimes-"))),
    )
    costs = [ev for ev in session.evaluators if ev.name != "gsm8k"]
    strategy = session.validate(Strategy(steps=[Step(method=m, params=p) for m, p in steps])) if steps else None
    measured, _, _ = session.measure(strategy, evaluators=costs)
    latency, size = measured["latency_ms"], measured["size_mb"]
    path = session.ctx.checkpoint(session.apply(strategy)) if latency.format.startswith("gguf-") else None
    return {
        "file": str(path) if path else None,
        "format": latency.format,
        "runtime": latency.runtime,
        "simulated": latency.simulated,
        "prefill_tps": args.prompt_len / (latency.value / 1000),
        "decode_tps": measured["decode_tps"].value,
        "peak_mb": measured["peak_memory_mb"].value,
        "size_mb": size.value,
        "size_check": "; ".join(size.notes) or "within 2%",
    }


def direct(path: str, fmt: str, args) -> dict:
    """llama-cpp-python called directly on the GGUF file at `path` — its own `Llama.generate` (greedy), batch 1,
    random prompts of `--prompt-len` tokens, as many threads as acf's llama.cpp runtime uses (torch's) — timed
    interleaved with acf's llama.cpp deployment of the same file (its worker process, as the latency evaluator
    times it), `--repeats` × 3 pairs after a warm-up of each: medians of both, so that machine noise between the
    rows is not read as a difference between them."""
    import random
    import statistics
    import time

    import torch
    from llama_cpp import Llama

    from acf_plugins_builtin.runtimes.llamacpp import LlamaCppRuntime

    threads = torch.get_num_threads()
    n_ctx = args.prompt_len + args.new_tokens + 8
    llm = Llama(
        model_path=path, n_ctx=n_ctx, n_batch=min(n_ctx, 512), n_threads=threads, n_threads_batch=threads, verbose=False
    )
    deployed = LlamaCppRuntime().load(Path(path), fmt)
    times: dict[str, list[tuple[float, float]]] = {"direct": [], "acf": []}
    try:
        for repeat in range(args.repeats * 3 + 1):
            rng = random.Random(repeat)
            prompt = [rng.randrange(llm.n_vocab()) for _ in range(args.prompt_len)]
            started = time.perf_counter()
            tokens = llm.generate(prompt, top_k=1, temp=0.0, reset=True)
            next(tokens)  # the prompt evaluated and the first token chosen
            first = time.perf_counter()
            for _, _token in zip(range(args.new_tokens - 1), tokens):
                pass
            decode = (args.new_tokens - 1) / (time.perf_counter() - first)
            prefill_s, acf_decode = deployed.prefill_decode(args.prompt_len, args.new_tokens, seed=repeat)
            if repeat:  # the first pair is the warm-up
                times["direct"].append((first - started, decode))
                times["acf"].append((prefill_s, acf_decode))
    finally:
        deployed.close()
    out = {}
    for who, pairs in times.items():
        out[who] = {
            "prefill_tps": args.prompt_len / statistics.median(p for p, _ in pairs),
            "decode_tps": statistics.median(d for _, d in pairs),
        }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompt-len", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", help="comma-separated rows: " + ", ".join(ROWS))
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(ROWS)
    if "fp32" not in names:
        names.insert(0, "fp32")  # the baseline of the ratio column
    rows = []
    for name in names:
        dtype, steps = ROWS[name]
        print(f"{name} …", file=sys.stderr, flush=True)
        try:
            rows.append({"name": name, **measure(args.model, dtype, steps, args)})
        except Exception as exc:  # a format this machine cannot make (a missing extra): shown, not hidden
            rows.append({"name": name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if rows[-1]["file"]:  # the same GGUF file, timed by llama-cpp-python called directly
            acf_row = rows[-1]
            paired = direct(acf_row["file"], acf_row["format"], args)
            direct_row = {"name": f"{name}-direct", "runtime": "llama-cpp-python-direct", "peak_mb": None}
            rows.append({**acf_row, **direct_row, **paired["direct"]})
            acf_row["interleaved"] = paired["acf"]  # acf's figures timed between the direct ones
            acf_row["prefill_vs_direct"] = paired["acf"]["prefill_tps"] / paired["direct"]["prefill_tps"]
            acf_row["decode_vs_direct"] = paired["acf"]["decode_tps"] / paired["direct"]["decode_tps"]
    base = next(r for r in rows if r["name"] == "fp32")
    print(
        "| row | format | runtime | simulated | prefill tok/s | decode tok/s | decode vs fp32 | peak MB | "
        "peak vs fp32 | size MB | size check | prefill, decode vs direct |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['name']} | - | - | - | - | - | - | - | - | - | {r['error']} | |")
            continue
        peak = f"{r['peak_mb']:.0f} | {r['peak_mb'] / base['peak_mb']:.0%}" if r["peak_mb"] else "- | -"
        versus = f"{r['prefill_vs_direct']:.2f}, {r['decode_vs_direct']:.2f}" if "decode_vs_direct" in r else ""
        print(
            f"| {r['name']} | {r['format']} | {r['runtime']} | {'yes' if r['simulated'] else 'no'} | "
            f"{r['prefill_tps']:.0f} | {r['decode_tps']:.1f} | {r['decode_tps'] / base['decode_tps']:.2f}× | "
            f"{peak} | {r['size_mb']:.1f} | {r['size_check']} | {versus} |"
        )
    import torch

    print(
        f"\n{args.model}, batch 1, {args.prompt_len}-token prompt, {args.new_tokens} new tokens, median of "
        f"{args.repeats}; torch threads {torch.get_num_threads()}"
    )
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
