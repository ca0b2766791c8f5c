"""Multiple-choice tasks scored by log-likelihood: each choice's probability after the same context."""

from __future__ import annotations

from typing import Any, ClassVar

from acf import Evaluator, Measurement

# Offline, some tasks ship one split only: its last items are held out for calibration and never scored.
EVAL_FRACTION = 0.85


class MultipleChoiceTask(Evaluator):
    """A task whose items are (context, choices, gold); subclasses load records and turn them into items.

    Fidelities: `subset` scores the first `subset` items (the cheap screen); `full` scores all of the
    evaluation split. `limit` (0: none) caps both.
    """

    is_task = True
    fidelities = ("subset", "full")
    default_fidelity = "subset"
    option_defaults: ClassVar[dict[str, Any]] = {"subset": 100, "limit": 0, "data_path": None}
    key: ClassVar[str] = ""

    def load(self, ctx) -> list[dict[str, Any]]:
        raise NotImplementedError

    def item(self, record: dict[str, Any]) -> tuple[str, list[str], Any]:
        """(context, choices, gold) of one record; gold is whatever `score` expects."""
        raise NotImplementedError

    def score(self, items, logprobs, fidelity: str) -> dict[str, Measurement]:
        raise NotImplementedError

    def prepare(self, ctx) -> None:
        self._split(ctx)

    def _split(self, ctx):
        def build():
            records = self.load(ctx)
            split = max(1, int(len(records) * EVAL_FRACTION)) if len(records) > 1 else 1
            return records[:split], records[split:]

        return self.shared(ctx, build, "data_path")

    def calibration_texts(self, ctx, n: int) -> list[str]:
        _, held_out = self._split(ctx)
        texts = []
        for record in held_out[:n]:
            context, choices, gold = self.item(record)
            texts.append(context + choices[self.correct_index(gold)])
        return texts

    def correct_index(self, gold: Any) -> int:
        return int(gold)

    def items_for(self, ctx, fidelity: str) -> list[tuple[str, list[str], Any]]:
        records, _ = self._split(ctx)
        if fidelity not in self.fidelities:
            raise ValueError(f"{self.name} has no fidelity {fidelity!r}")
        records = records[: self.options["limit"] or None]
        if fidelity == "subset":
            records = records[: self.options["subset"]]
        return [self.item(r) for r in records]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        from .scoring import choice_logprobs

        items = self.items_for(ctx, fidelity)
        with ctx.progress.task(f"{self.name} ({fidelity})", total=len(items)) as bar:
            logprobs = choice_logprobs(model, ctx.tokenizer, [(c, ch) for c, ch, _ in items], progress=bar)
        return self.score(items, logprobs, fidelity)
