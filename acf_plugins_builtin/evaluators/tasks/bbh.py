"""BIG-Bench Hard as lm-eval's `bbh_cot_fewshot`: 3-shot chain-of-thought generation per task, the answer taken
after "the answer is" (no such phrase: invalid, scored wrong), exact match, macro-averaged over the tasks.

The exemplars and the task descriptions are the ones lm-eval ships (its `bbh/cot_fewshot/<task>.yaml`, from the
BBH paper's prompts), so `pip install 'acf[eval]'` is needed; its generation limits too (up to 1024 new tokens,
stopping at "</s>", "Q" or a blank line). Test items come from the Hub (SaylorTwift/bbh, as lm-eval) or
`--data-path` (records with `task`, `input`, `target`). Calibration text comes from another task's data.
"""

from __future__ import annotations

import math
from pathlib import Path

from acf import DatasetNotFoundError, Evaluator, Measurement, Metric, MissingBackendError
from acf.toolkit import Z95, proportion
from acf_plugins_builtin.evaluators.tasks.calibration_sources import calibration_texts
from acf_plugins_builtin.evaluators.tasks.data import find_records, hub_records
from acf_plugins_builtin.evaluators.tasks.lmeval_defs import cut_at_stops, exact_match, fewshot_prompt, regex_filter

TASKS = (
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
)
# lm-eval's bbh/cot_fewshot/_cot_fewshot_template_yaml
ANSWER = r"(?<=the answer is )(.*)(?=.)"
UNTIL = ("</s>", "Q", "\n\n")
MAX_GEN_TOKS = 1024


def extract(text: str) -> str:
    """lm-eval's get-answer filter: the text after "the answer is" (less its last character), else invalid."""
    return regex_filter(text, ANSWER)


def exemplars(task: str) -> tuple[str, list[dict]]:
    """(description, three {input, target} chain-of-thought shots) from lm-eval's task file."""
    import importlib.util

    spec = importlib.util.find_spec("lm_eval")
    if spec is None:
        raise MissingBackendError("lm-eval", "eval", "BIG-Bench Hard's chain-of-thought exemplars")
    import yaml

    path = Path(spec.submodule_search_locations[0]) / "tasks" / "bbh" / "cot_fewshot" / f"{task}.yaml"
    if not path.is_file():
        raise DatasetNotFoundError(f"lm-eval has no BBH task {task!r} ({path})")
    data = yaml.safe_load(path.read_text())
    return data.get("description", ""), data["fewshot_config"]["samples"]


def prompt(description: str, shots: list[dict], question: str) -> str:
    """lm-eval's context: the description, the shots (no delimiter between text and target), the question."""

    def text(q: str) -> str:
        return f"Q: {q}\nA: Let's think step by step.\n"

    return fewshot_prompt(
        [(text(s["input"]), s["target"]) for s in shots], text(question), description=description, target_delimiter=""
    )


class BBH(Evaluator):
    name = "bbh"
    description = "BIG-Bench Hard, 3-shot chain of thought, exact match (macro over tasks; per-task scores too)"
    is_task = True
    fidelities = ("subset", "full")
    default_fidelity = "subset"
    metrics = (
        Metric(
            name="bbh_exact_match",
            direction="max",
            category="accuracy",
            description="exact match of the final answer, macro-averaged over the tasks",
        ),
    )
    option_defaults = {
        "tasks": "",
        "subset": 8,
        "limit": 0,
        "max_new_tokens": MAX_GEN_TOKS,
        "data_path": None,
        "calibration_path": None,
    }
    version = "2"

    def selected(self) -> list[str]:
        wanted = [t.strip() for t in self.options["tasks"].split(",") if t.strip()] or list(TASKS)
        unknown = [t for t in wanted if t not in TASKS]
        if unknown:
            raise DatasetNotFoundError(f"unknown BBH task(s) {', '.join(unknown)}; tasks: {', '.join(TASKS)}")
        return wanted

    def prepare(self, ctx) -> None:
        self._tasks(ctx)

    def _tasks(self, ctx) -> dict:
        """Task → ((description, exemplars), records), loaded once per run."""

        def build():
            tasks = self.selected()
            records, where = find_records(
                "BIG-Bench Hard",
                self.options["data_path"],
                [
                    (
                        "the Hugging Face Hub (SaylorTwift/bbh)",
                        lambda: [{"task": t, **r} for t in tasks for r in hub_records("SaylorTwift/bbh", t, "test")],
                    ),
                ],
                fields=("task", "input", "target"),
                hint="pass --data-path FILE.jsonl with task/input/target fields",
            )
            by_task = {t: [r for r in records if r["task"] == t] for t in tasks}
            missing = [t for t, rs in by_task.items() if not rs]
            if missing and self.options["tasks"]:
                raise DatasetNotFoundError(f"{where} has no items for BBH task(s) {', '.join(missing)}")
            return {t: (exemplars(t), rs) for t, rs in by_task.items() if rs}

        return self.shared(ctx, build, "data_path", "tasks")

    def calibration_texts(self, ctx, n: int) -> list[str]:
        texts, _ = self.shared(
            ctx,
            lambda: calibration_texts(
                "bbh",
                path=self.options["calibration_path"],
                fields=("input", "target"),
                to_text=lambda r: f"Q: {r['input']}\nA: {r['target']}",
            ),
            "calibration_path",
        )
        return texts[:n]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        from acf_plugins_builtin.evaluators.scoring.generation import greedy_generate

        if fidelity not in self.fidelities:
            raise ValueError(f"bbh has no fidelity {fidelity!r}")
        per_task: dict[str, Measurement] = {}
        for task, ((description, shots), records) in self._tasks(ctx).items():
            records = records[: self.options["limit"] or None]
            if fidelity == "subset":
                records = records[: self.options["subset"]]
            prompts = [prompt(description, shots, r["input"]) for r in records]
            with ctx.progress.task(f"bbh {task}", total=len(prompts)) as bar:
                outputs = greedy_generate(
                    ctx.scoring_model(model),
                    ctx.tokenizer,
                    prompts,
                    max_new_tokens=self.options["max_new_tokens"],
                    stop=UNTIL,
                    progress=bar,
                )
            hits = sum(exact_match(extract(cut_at_stops(out, UNTIL)), r["target"]) for out, r in zip(outputs, records))
            per_task[task] = proportion(hits, len(records), fidelity=fidelity)
        return {
            "bbh_exact_match": macro(list(per_task.values()), fidelity),
            **{f"bbh_{task}": m for task, m in per_task.items()},
        }


def macro(scores: list[Measurement], fidelity: str) -> Measurement:
    """Mean of per-task accuracies; 95% interval from the per-task binomial variances."""
    k = len(scores)
    value = sum(s.value for s in scores) / k
    var = sum(s.value * (1 - s.value) / max(1, s.n) for s in scores) / (k * k)
    half = Z95 * math.sqrt(var)
    return Measurement(
        value=value,
        low=max(0.0, value - half),
        high=min(1.0, value + half),
        n=sum(s.n for s in scores),
        fidelity=fidelity,
    )
