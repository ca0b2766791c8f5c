"""Perplexity: rolling log-likelihood over a text set (WikiText-2 from the Hub, or a local file)."""

from __future__ import annotations

import math

from acf import Evaluator, Measurement, Metric
from acf.toolkit import bootstrap_interval

from .data import first_available, hub_records, read_records


def _texts_from_file(path: str) -> list[str]:
    from pathlib import Path

    p = Path(path).expanduser()
    if p.suffix.lower() == ".txt" and p.is_file():
        return [block for block in p.read_text().split("\n\n") if block.strip()]
    records = read_records(p)
    if not records or "text" not in records[0]:
        from acf import DatasetNotFoundError

        raise DatasetNotFoundError(f"{p} needs a 'text' field in each record (or use a .txt file)")
    return [r["text"] for r in records if r["text"].strip()]


class Perplexity(Evaluator):
    name = "perplexity"
    description = "token and word perplexity over a text set (lower is better)"
    is_task = True
    metrics = (
        Metric(name="perplexity", direction="min", category="accuracy", description="token perplexity"),
        Metric(name="word_perplexity", direction="min", category="accuracy", description="perplexity per whitespace word"),
    )
    option_defaults = {"data_path": None, "limit": 40, "window": 512}

    def prepare(self, ctx) -> None:
        if "perplexity:texts" in ctx.cache:
            return
        path = self.options["data_path"]
        sources = [("--data-path " + str(path), lambda: _texts_from_file(path))] if path else [
            ("the Hugging Face Hub (wikitext-2-raw-v1)", self._wikitext),
        ]
        texts, _ = first_available(sources, "perplexity text", hint="pass --data-path FILE (.txt, or .jsonl with a 'text' field)")
        ctx.cache["perplexity:texts"] = texts

    @staticmethod
    def _wikitext():
        rows = hub_records("Salesforce/wikitext", "wikitext-2-raw-v1", "test")
        docs, current = [], []
        for row in rows:  # WikiText lines; a " = Title = " line starts a new article
            line = row["text"]
            if line.startswith(" = ") and not line.startswith(" = = ") and current:
                docs.append("".join(current))
                current = []
            current.append(line)
        docs.append("".join(current))
        return [d for d in docs if d.strip()]

    def calibration_texts(self, ctx, n: int) -> list[str]:
        self.prepare(ctx)
        texts = ctx.cache["perplexity:texts"]
        return texts[self.options["limit"]:][:n]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        from .scoring import rolling_nll

        self.prepare(ctx)
        texts = ctx.cache["perplexity:texts"][: self.options["limit"]]
        with ctx.progress.task("perplexity", total=None) as bar:
            per_doc = rolling_nll(model, ctx.tokenizer, texts, window=self.options["window"], progress=bar)
        words = [len(t.split()) for t in texts]
        samples = [(nll, n, w) for (nll, n), w in zip(per_doc, words) if n]

        def token_ppl(s):
            return math.exp(sum(x[0] for x in s) / sum(x[1] for x in s))

        def word_ppl(s):
            return math.exp(sum(x[0] for x in s) / max(1, sum(x[2] for x in s)))

        out = {}
        for metric, stat in (("perplexity", token_ppl), ("word_perplexity", word_ppl)):
            low, high = bootstrap_interval(samples, stat)
            value = stat(samples)
            out[metric] = Measurement(value=value, low=min(low, value), high=max(high, value), n=len(samples), fidelity=fidelity)
        return out
