"""What the steps and evaluators of a run share (tokenizer, calibration text, teacher, device, progress), and
what the steps of the candidate being built record for the evaluators and for `result.json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from acf.models.artifact import content_hash, export_hf, tensor_bytes, weight_bytes
from acf.models.spec import ModelSpec
from acf.progress import Progress
from acf.tensor_format import TensorFormat


@dataclass
class Records:
    """What the steps of one candidate recorded.

    `steps` (one dict per step, JSON: training loss, dropped layers, …) lands in `result.json`;
    `tensor_formats` (parameter name → how it is stored) is what the size evaluator counts; `objects` holds
    what a later step or the export needs and is never saved (a backend's quantizer object, say).
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    tensor_formats: dict[str, TensorFormat] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)

    def begin_step(self, method: str) -> None:
        self.steps.append({"method": method})
        # a new step changes the weights: what was written to disk for the model before it is not this model
        for memo in ("content_hash", "artifacts", "deliverable", "checkpoint_bytes"):
            self.objects.pop(memo, None)


@dataclass
class Context:
    spec: ModelSpec
    device: str = "cpu"
    seed: int = 0
    progress: Progress = field(default_factory=Progress)
    # Loaded lazily by the session and shared by every step and evaluator of the run.
    load_tokenizer: Callable[[], Any] | None = None
    load_teacher: Callable[[], Any] | None = None
    load_calibration: Callable[[int], list[str]] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    # The candidate being built and measured now; the session starts a fresh one per candidate.
    records: Records = field(default_factory=Records)
    # (model, context) → the `Deployment` its cost is measured on; the session sets it from `--runtime`.
    deploy: Callable[[Any, "Context"], Any] | None = None
    # Where candidates are written once per content (`acf.models.artifact.ArtifactStore`); the session sets it.
    artifacts: Any = None

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
        if self.load_calibration is None:
            raise RuntimeError("this run provides no calibration data")
        return self._memo(f"calibration:{n}", lambda: self.load_calibration(n), "calibration data")

    def deployment(self, model: Any) -> Any:
        """The candidate deployed on the run's runtime (`acf.Deployment`), once per candidate: what cost
        evaluators time."""
        if "deployment" not in self.records.objects:
            if self.deploy is None:
                raise RuntimeError("this context has no runtime: build it with acf.Session or set `deploy` "
                                   "(acf.testing.model_context does)")
            self.records.objects["deployment"] = self.deploy(model, self)
        return self.records.objects["deployment"]

    def scoring_model(self, model: Any) -> Any:
        """What task evaluators score: the candidate's deployment where its runtime runs it natively and scores
        tokens itself (`Deployment.score_tokens`: llama.cpp's logits for a GGUF file), else `model`."""
        if self.deploy is None:
            return model
        deployed = self.deployment(model)
        if deployed.simulated or not deployed.scores_tokens:
            return model
        self.records.objects["scored_on"] = f"scored on {deployed.runtime} ({deployed.format})"
        return deployed

    def note_scoring(self, measured: dict[str, Any]) -> dict[str, Any]:
        """An evaluator's measurements, each noting the runtime that scored them when one did."""
        note = self.records.objects.pop("scored_on", None)
        return {k: m.model_copy(update={"notes": [*m.notes, note]}) for k, m in measured.items()} if note else measured

    def close_deployment(self) -> None:
        deployment = self.records.objects.pop("deployment", None)
        if deployment is not None:
            deployment.close()

    # ------------------------------------------------------------------ the candidate on disk
    def artifact(self, model: Any, kind: str = "hf", build: Callable[[Path], Any] | None = None) -> Path:
        """The folder holding the candidate written as `kind`, once per content: `hf` (a Hugging Face folder with
        its tokenizer, by default) or what `build(folder)` writes (a GGUF file, say)."""
        memo = self.records.objects.setdefault("artifacts", {})
        if kind not in memo:
            if self.artifacts is None:
                raise RuntimeError("this context has no artifact store: build it with acf.Session "
                                   "(acf.testing.model_context does)")
            if "content_hash" not in self.records.objects:
                writers = [type(m).__name__ for m in self.records.objects.get("methods", [])]
                self.records.objects["content_hash"] = content_hash(model, self.records.tensor_formats, writers)
            key = f"{self.records.objects['content_hash']}-{kind.replace('/', '_')}"
            memo[kind] = self.artifacts.get(key, build or (lambda folder: export_hf(model, folder, self)))
        return memo[kind]

    def checkpoint(self, model: Any) -> Path:
        """What a user of the candidate deploys: the file a step wrote as its deliverable (`deliverable` in the
        artifacts, e.g. the `gguf` method's GGUF file), else the Hugging Face folder."""
        kind = self.records.objects.get("deliverable")
        if kind:
            folder = self.artifact(model, kind)
            return next(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        return self.artifact(model, "hf")

    def checkpoint_bytes(self, model: Any) -> tuple[int, int]:
        """Bytes on disk of `checkpoint(model)` (tokenizer files left out) and of the tensor data in it, read once
        per candidate."""
        if "checkpoint_bytes" not in self.records.objects:
            path = self.checkpoint(model)
            self.records.objects["checkpoint_bytes"] = weight_bytes(path), tensor_bytes(path)
        return self.records.objects["checkpoint_bytes"]

    # ------------------------------------------------------------------ what the current candidate's steps record
    def record(self, **notes: Any) -> None:
        """Note JSON values about the step now running (e.g. `training_loss=[...]`); they land in `result.json`."""
        if not self.records.steps:
            self.records.begin_step("")
        self.records.steps[-1].update(notes)

    def set_tensor_format(self, param_name: str, fmt: TensorFormat) -> None:
        """Say how a parameter of the candidate is stored once deployed (the size evaluator counts it)."""
        self.records.tensor_formats[param_name] = fmt

    @property
    def tensor_formats(self) -> dict[str, TensorFormat]:
        return dict(self.records.tensor_formats)
