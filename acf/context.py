"""What the steps and evaluators of a run share: tokenizer, calibration text, teacher, device, progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from acf.progress import Progress

if TYPE_CHECKING:
    from acf.spec import ModelSpec


@dataclass
class Context:
    spec: "ModelSpec"
    device: str = "cpu"
    seed: int = 0
    progress: Progress = field(default_factory=Progress)
    # Loaded lazily by the coordinator and shared by every step and evaluator of the run.
    load_tokenizer: Callable[[], Any] | None = None
    load_teacher: Callable[[], Any] | None = None
    load_calibration: Callable[[int], list[str]] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def _memo(self, key: str, loader: Callable[[], Any] | None, what: str) -> Any:
        if key not in self.cache:
            if loader is None:
                raise RuntimeError(f"this run provides no {what}")
            self.cache[key] = loader()
        return self.cache[key]

    @property
    def tokenizer(self) -> Any:
        return self._memo("tokenizer", self.load_tokenizer, "tokenizer")

    @property
    def teacher(self) -> Any:
        """The uncompressed model (shared; do not modify it)."""
        return self._memo("teacher", self.load_teacher, "teacher model")

    def calibration_texts(self, n: int | None = None) -> list[str]:
        """Texts from the task's non-evaluation split, `n` of them (default: the spec's suggestion)."""
        n = n or self.spec.calibration_samples
        key = f"calibration:{n}"
        if self.load_calibration is None:
            raise RuntimeError("this run provides no calibration data")
        return self._memo(key, lambda: self.load_calibration(n), "calibration data")
