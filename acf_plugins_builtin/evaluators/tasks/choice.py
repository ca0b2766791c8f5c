"""Multiple-choice tasks scored by log-likelihood: each choice's probability after the same context."""

from __future__ import annotations

from typing import Any, ClassVar

from acf import Evaluator, Measurement
from acf_plugins_builtin.evaluators.tasks.calibration_sources import calibration_texts


class MultipleChoiceTask(Evaluator):
    """A task whose items are (context, choices, gold); subclasses load records and turn them into items.

    Fidelities: `subset` scores the first `subset` items (the cheap screen); `full` scores the whole evaluation
    split. `limit` (0: none) caps both. Calibration text never comes from the evaluation split
    (`calibration_sources`).
    """

    is_task = True
    fidelities = ("subset", "full")
    default_fidelity = "subset"
    option_defaults: ClassVar[dict[str, Any]] = {"subset": 100, "limit": 0, "data_path": None, "calibration_path": None}
    fields: ClassVar[tuple[str, ...]] = ()
    # The task's training split on the Hub (dataset, config, split), where it has one.
    train_split: ClassVar[tuple[str, str | None, str] | None] = None

    def load(self, ctx) -> tuple[list[dict[str, Any]], str]:
        """(records of the evaluation split, where they came from)."""
        raise NotImplementedError

    def item(self, record: dict[str, Any]) -> tuple[str, list[str], Any]:
        """(context, continuations, gold) of one record; gold is whatever `score` expects."""
        raise NotImplementedError

    def score(self, items, logprobs, fidelity: str) -> dict[str, Measurement]:
        raise NotImplementedError

    def calibration_text(self, record: dict[str, Any]) -> str:
        """A record as calibration text: its context and its right answer."""
        context, choices, gold = self.item(record)
        return context + choices[self.correct_index(gold)]

    def prepare(self, ctx) -> None:
        self._records(ctx)

    def _records(self, ctx):
        return self.shared(ctx, lambda: self.load(ctx), "data_path")

    def calibration_texts(self, ctx, n: int) -> list[str]:
        texts, _ = self.shared(
            ctx,
            lambda: calibration_texts(
                self.name,
                path=self.options["calibration_path"],
                to_text=self.calibration_text,
                fields=self.fields,
                train=self.train_split,
            ),
            "calibration_path",
            "variant",
        )
        return texts[:n]

    def correct_index(self, gold: Any) -> int:
        return int(gold)

    def items_for(self, ctx, fidelity: str) -> list[tuple[str, list[str], Any]]:
        records, _ = self._records(ctx)
        if fidelity not in self.fidelities:
            raise ValueError(f"{self.name} has no fidelity {fidelity!r}")
        records = records[: self.options["limit"] or None]
        if fidelity == "subset":
            records = records[: self.options["subset"]]
        return [self.item(r) for r in records]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        from acf_plugins_builtin.evaluators.scoring.choices import choice_logprobs

        items = self.items_for(ctx, fidelity)
        records, where = self._records(ctx)
        with ctx.progress.task(f"{self.name} ({fidelity})", total=len(items)) as bar:
            logprobs = choice_logprobs(
                ctx.scoring_model(model), ctx.tokenizer, [(c, ch) for c, ch, _ in items], progress=bar
            )
        scored = f"items [0:{len(items)}] of {len(records)} ({where})"
        return {k: m.model_copy(update={"items": scored}) for k, m in self.score(items, logprobs, fidelity).items()}
