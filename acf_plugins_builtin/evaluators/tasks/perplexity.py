"""Perplexity: rolling log-likelihood over whole documents.

Variants: `lm-eval` (the default) is lm-eval's `wikitext`: WikiText-2's test pages (EleutherAI/wikitext_document_level
from the Hub, or `--data-path` records with a `page` field), detokenized as lm-eval does, scored in windows as
long as the model's context, with word and byte perplexity counted on the original page. `acf` is acf's own:
texts (a `.txt` file's blank-line blocks, or records with a `text` field) in 512-token windows, words split on
whitespace. Both report token perplexity too.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from acf import DatasetNotFoundError, Evaluator, Measurement, Metric
from acf.toolkit import bootstrap_interval
from acf_plugins_builtin.evaluators.tasks.calibration_sources import calibration_texts
from acf_plugins_builtin.evaluators.tasks.data import find_records, first_available, hub_records, read_records

DEFAULT_MAX_LENGTH = 2048  # lm-eval's, when neither the config nor the tokenizer gives one


def wikitext_detokenizer(page: str) -> str:
    """lm-eval's tasks/wikitext/preprocess_wikitext.wikitext_detokenizer."""
    string = page.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    for a, b in (
        (" @-@ ", "-"),
        (" @,@ ", ","),
        (" @.@ ", "."),
        (" : ", ": "),
        (" ; ", "; "),
        (" . ", ". "),
        (" ! ", "! "),
        (" ? ", "? "),
        (" , ", ", "),
    ):
        string = string.replace(a, b)
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    for a, b in (
        ("= = = =", "===="),
        ("= = =", "==="),
        ("= =", "=="),
        (" " + chr(176) + " ", chr(176)),
        (" \n", "\n"),
        ("\n ", "\n"),
        (" N ", " 1 "),
        (" 's", "'s"),
    ):
        string = string.replace(a, b)
    return string


def max_length(model, tokenizer) -> int:
    """The model's context length as lm-eval's HF backend resolves it."""
    config = model.config
    config = getattr(config, "text_config", None) or config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if limit and limit < 1e30 else DEFAULT_MAX_LENGTH


def _texts_from_file(path: str) -> list[str]:
    p = Path(path).expanduser()
    if p.suffix.lower() == ".txt" and p.is_file():
        return [block for block in p.read_text().split("\n\n") if block.strip()]
    records = read_records(p)
    if not records or "text" not in records[0]:
        raise DatasetNotFoundError(f"{p} needs a 'text' field in each record (or use a .txt file)")
    return [r["text"] for r in records if r["text"].strip()]


class Perplexity(Evaluator):
    name = "perplexity"
    description = "perplexity over whole documents: lm-eval's wikitext (word, byte and token perplexity)"
    version = "2"
    is_task = True
    variants = {
        "lm-eval": "lm-eval's wikitext: detokenized WikiText-2 pages, windows of the model's context",
        "acf": "texts in 512-token windows, words split on whitespace",
    }
    metrics = (
        Metric(name="perplexity", direction="min", category="accuracy", description="token perplexity"),
        Metric(name="word_perplexity", direction="min", category="accuracy", description="perplexity per word"),
        Metric(name="byte_perplexity", direction="min", category="accuracy", description="perplexity per UTF-8 byte"),
        Metric(name="bits_per_byte", direction="min", category="accuracy", description="log2 loss per UTF-8 byte"),
    )
    option_defaults = {"data_path": None, "limit": 0, "window": 512, "calibration_path": None}

    def primary_metric(self, fidelity: str) -> str:
        return "word_perplexity" if self.variant == "lm-eval" else "perplexity"

    def prepare(self, ctx) -> None:
        self._docs(ctx)

    def _docs(self, ctx) -> tuple[list[dict], str]:
        """Documents as {page (counted), text (scored)} and where they came from."""

        def build():
            path = self.options["data_path"]
            if self.variant == "acf":
                sources = (
                    [("--data-path " + str(path), lambda: _texts_from_file(path))]
                    if path
                    else [("the Hugging Face Hub (wikitext-2-raw-v1)", self._wikitext_articles)]
                )
                texts, where = first_available(
                    sources, "perplexity text", hint="pass --data-path FILE (.txt, or .jsonl with a 'text' field)"
                )
                return [{"page": t, "text": t} for t in texts], where
            records, where = find_records(
                "WikiText-2",
                path,
                [
                    (
                        "the Hugging Face Hub (EleutherAI/wikitext_document_level)",
                        lambda: hub_records("EleutherAI/wikitext_document_level", "wikitext-2-raw-v1", "test"),
                    ),
                ],
                fields=("page",),
                hint="pass --data-path FILE.jsonl with a 'page' field per document",
            )
            return [{"page": r["page"], "text": wikitext_detokenizer(r["page"])} for r in records], where

        return self.shared(ctx, build, "data_path", "variant")

    @staticmethod
    def _wikitext_articles():
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
        texts, _ = self.shared(
            ctx,
            lambda: calibration_texts(
                "perplexity", path=self.options["calibration_path"], fields=("text",), to_text=lambda r: r["text"]
            ),
            "calibration_path",
        )
        return texts[:n]

    def evaluate(self, model, ctx, fidelity: str) -> dict[str, Measurement]:
        from acf_plugins_builtin.evaluators.scoring.logprobs import rolling_nll

        docs, where = self._docs(ctx)
        scored = docs[: self.options["limit"] or None]
        mirror = self.variant == "lm-eval"
        window = max_length(model, ctx.tokenizer) if mirror else self.options["window"]
        with ctx.progress.task("perplexity", total=None) as bar:
            per_doc = rolling_nll(
                ctx.scoring_model(model),
                ctx.tokenizer,
                [d["text"] for d in scored],
                window=window,
                progress=bar,
                special_tokens=mirror,
            )
        words = [len(re.split(r"\s+", d["page"])) if mirror else len(d["page"].split()) for d in scored]
        samples = [(nll, n, w, len(d["page"].encode("utf-8"))) for (nll, n), w, d in zip(per_doc, words, scored) if n]

        def per(i: int):
            return lambda s: math.exp(sum(x[0] for x in s) / max(1, sum(x[i] for x in s)))

        stats = {
            "perplexity": per(1),
            "word_perplexity": per(2),
            "byte_perplexity": per(3),
            "bits_per_byte": lambda s: sum(x[0] for x in s) / max(1, sum(x[3] for x in s)) / math.log(2),
        }
        items = f"documents [0:{len(scored)}] of {len(docs)} ({where})"
        out = {}
        for metric, stat in stats.items():
            low, high = bootstrap_interval(samples, stat)
            value = stat(samples)
            out[metric] = Measurement(
                value=value, low=min(low, value), high=max(high, value), n=len(samples), fidelity=fidelity, items=items
            )
        return out
