"""lm-eval's definitions, mirrored: how its tasks build few-shot prompts, cut generations, extract answers and
score exact match (lm_eval/api/task.py, filters/extraction.py, api/metrics.py). The parity tests check each of
these against lm-eval itself, item by item."""

from __future__ import annotations

import re
import string
from typing import Sequence

FALLBACK = "[invalid]"


def fewshot_prompt(
    shots: Sequence[tuple[str, str]],
    text: str,
    *,
    description: str = "",
    target_delimiter: str = " ",
    fewshot_delimiter: str = "\n\n",
) -> str:
    """A task's context: description, then each (doc_to_text, doc_to_target) shot, then this document's text."""
    examples = "".join(t + target_delimiter + target + fewshot_delimiter for t, target in shots)
    return description + examples + text


def cut_at_stops(text: str, until: Sequence[str]) -> str:
    """What generate_until keeps: the text before the first occurrence of each stop string, in turn."""
    for stop in until:
        if stop:
            text = text.split(stop)[0]
    return text


def regex_filter(text: str, pattern: str, group_select: int = 0, fallback: str = FALLBACK) -> str:
    """lm-eval's `regex` filter followed by `take_first`."""
    found = re.findall(pattern, text)
    if not found:
        return fallback
    match = found[group_select]
    if isinstance(match, tuple):
        match = next((m for m in match if m), fallback)
    return match.strip()


def exact_match(
    prediction: str,
    reference: str,
    *,
    regexes_to_ignore: Sequence[str] = (),
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
) -> bool:
    """lm-eval's `exact_match` (the Hugging Face `evaluate` metric) for one pair."""
    for pattern in regexes_to_ignore:
        prediction, reference = re.sub(pattern, "", prediction), re.sub(pattern, "", reference)
    if ignore_case:
        prediction, reference = prediction.lower(), reference.lower()
    if ignore_punctuation:
        table = str.maketrans("", "", string.punctuation)
        prediction, reference = prediction.translate(table), reference.translate(table)
    return prediction == reference
