"""The evaluation cache: measurements keyed by everything that changes them, shared across runs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from acf.errors import RunStoreError
from acf.rundir.files import atomic_write_json, cache_dir, read_json


class EvalCache:
    """Evaluation results keyed by (model fingerprint, strategy, evaluator, fidelity, config)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_dir() / "evals"

    @staticmethod
    def key(**parts: Any) -> str:
        blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return read_json(path)
        except RunStoreError:
            return None  # a torn cache entry is just a miss

    def put(self, key: str, value: Any) -> None:
        try:
            atomic_write_json(self._path(key), value)
        except OSError:
            pass  # the cache is an optimisation; a read-only cache dir must not fail the run
