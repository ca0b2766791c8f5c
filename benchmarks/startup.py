"""Start-up time of `acf --help` and `acf plugins list` (goals: ≤ 0.3 s and ≤ 1 s), and proof they import no torch.

Run: python benchmarks/startup.py [--repeats N]
Prints the median wall time of each command, measured in fresh processes, next to the bare interpreter
start-up (`python -c pass`) measured in the same run, and exits non-zero if torch gets imported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

PROBE = (
    "import sys\n"
    "from acf.cli import main\n"
    "sys.argv = ['acf', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "sys.stderr.write('TORCH_IMPORTED=%s\\n' % ('torch' in sys.modules))\n"
)

COMMANDS = {
    "python -c pass (baseline)": ([sys.executable, "-c", "pass"], None),
    "acf --help": ([sys.executable, "-c", PROBE, "--help"], 0.3),
    "acf plugins list": ([sys.executable, "-c", PROBE, "plugins", "list", "--all"], 1.0),
}


def time_command(argv: list[str], repeats: int) -> tuple[float, bool]:
    times, torch_seen = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        torch_seen |= "TORCH_IMPORTED=True" in proc.stderr
    return statistics.median(times), torch_seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    rows, failed = [], False
    baseline = None
    for label, (argv, goal) in COMMANDS.items():
        median, torch_seen = time_command(argv, args.repeats)
        baseline = baseline or median
        ok = (goal is None or median <= goal) and not torch_seen
        failed |= torch_seen
        rows.append((label, median, median / baseline, goal, torch_seen, ok))
    print(f"{'command':32} {'median s':>9} {'× python':>9} {'goal s':>7} {'torch?':>7}  verdict")
    for label, median, ratio, goal, torch_seen, ok in rows:
        goal_text = f"{goal:.1f}" if goal else "-"
        print(f"{label:32} {median:9.3f} {ratio:9.2f} {goal_text:>7} {str(torch_seen):>7}  {'ok' if ok else 'MISSED'}")
    if failed:
        print("torch was imported by a command that must not import it", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
