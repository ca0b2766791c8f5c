"""acf's evaluators against lm-eval's HF backend on the same documents and model, and against raw forward speed.

Run: python benchmarks/eval_throughput.py [--mc-items 200] [--gen-items 16] [--gen-tokens 96] [--batch 8]

Since acf's default tasks mirror lm-eval's (#11) this is `benchmarks/parity.py` on a CommonsenseQA subset and a
few GSM8K chain-of-thought items, with this script's options: it prints parity.py's table (per-item agreement,
both scores, wall times, speed-up, share of the raw forward rate).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import parity  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mc-items", type=int, default=200)
    parser.add_argument("--gen-items", type=int, default=16)
    parser.add_argument("--gen-tokens", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8, help="lm-eval's batch size")
    args, rest = parser.parse_known_args(argv)
    return parity.main(
        [
            "--tasks",
            "commonsense_qa,gsm8k_cot",
            "--limit",
            str(args.mc_items),
            "--gen-limit",
            str(args.gen_items),
            "--gen-tokens",
            str(args.gen_tokens),
            "--batch",
            str(args.batch),
            *rest,
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
