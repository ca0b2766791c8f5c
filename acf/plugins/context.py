"""What the steps and evaluators of a run share (tokenizer, calibration text, teacher, device, progress), and
what the steps of the candidate being built record for the evaluators and for `result.json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from acf.models.artifact import HF, content_hash, tensor_bytes, weight_bytes, write_candidate
from acf.system.progress import Progress
from acf.types.spec import ModelSpec
from acf.types.tensor_format import TensorFormat


@dataclass
class Records:
    """What the steps of one candidate recorded, and what the core worked out about it; never saved but `steps`.

    What steps tell evaluators and the core, each a typed field: `steps` (one dict per step, JSON: training loss,
    dropped layers, …) lands in `result.json`; `tensor_formats` (parameter name → how it is stored) is what the size
    evaluator counts; `deliverable` names the artifact a step wrote as what a user deploys (`gguf-Q4_K_M`, say:
    `Context.checkpoint` returns it); `packed` holds the linear layers a step stored packed (module name →
    (grid, scale, zero)) for the compressed-tensors writer; `methods` the steps' methods in order (they write the
    candidate: `Method.write`). A plugin keeps its own objects in `memo(owner)`, a slot of its own (a backend's
    quantizer, say). The rest is the core's memo of the candidate: its deployment, the runtime that scored it, its
    artifacts on disk, their content hash and size.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    tensor_formats: dict[str, TensorFormat] = field(default_factory=dict)
    methods: list[Any] = field(default_factory=list)
    deliverable: str | None = None
    packed: dict[str, Any] = field(default_factory=dict)
    private: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployment: Any = None
    scored_on: str | None = None
    artifacts: dict[str, Path] = field(default_factory=dict)
    content_hash: str | None = None
    checkpoint_bytes: tuple[int, int] | None = None

    def begin_step(self, method: str) -> None:
        self.steps.append({"method": method})
        # a new step changes the weights: what was written to disk for the model before it is not this model
        self.content_hash, self.artifacts, self.deliverable, self.checkpoint_bytes = None, {}, None, None

    def memo(self, owner: str) -> dict[str, Any]:
        """The private objects of plugin `owner` (its name) for this candidate: no other plugin reads them."""
        return self.private.setdefault(owner, {})


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
    # Objects loaded once per run and shared by every step and evaluator (`Evaluator.shared`); not the evaluation
    # cache (`acf.rundir.cache.EvalCache`) nor the acf cache folder (`acf.toolkit.cache_dir`).
    memo: dict[Any, Any] = field(default_factory=dict)
    # The candidate being built and measured now; the session starts a fresh one per candidate.
    records: Records = field(default_factory=Records)
    # (model, context) → the `Deployment` its cost is measured on; the session sets it from `--runtime`.
    deploy: Callable[[Any, "Context"], Any] | None = None
    # Where candidates are written once per content (`acf.models.artifact.ArtifactStore`); the session sets it.
    artifacts: Any = None

    def _memo(self, key: str, loader: Callable[[], Any] | None, what: str) -> Any:
        if key not in self.memo:
            if loader is None:
                raise RuntimeError(f"this run provides no {what}")
            self.memo[key] = loader()
        return self.memo[key]

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
        if self.records.deployment is None:
            if self.deploy is None:
                raise RuntimeError(
                    "this context has no runtime: build it with acf.Session or set `deploy` "
                    "(acf.testing.model_context does)"
                )
            self.records.deployment = self.deploy(model, self)
        return self.records.deployment

    def scoring_model(self, model: Any) -> Any:
        """What task evaluators score: the candidate's deployment where its runtime runs it natively and scores
        tokens itself (`Deployment.score_tokens`: llama.cpp's logits for a GGUF file), else `model`."""
        if self.deploy is None:
            return model
        deployed = self.deployment(model)
        if deployed.simulated or not deployed.scores_tokens:
            return model
        self.records.scored_on = f"scored on {deployed.runtime} ({deployed.format})"
        return deployed

    def note_scoring(self, measured: dict[str, Any]) -> dict[str, Any]:
        """An evaluator's measurements, each noting the runtime that scored them when one did."""
        note, self.records.scored_on = self.records.scored_on, None
        return {k: m.model_copy(update={"notes": [*m.notes, note]}) for k, m in measured.items()} if note else measured

    def close_deployment(self) -> None:
        deployment, self.records.deployment = self.records.deployment, None
        if deployment is not None:
            deployment.close()

    # ------------------------------------------------------------------ the candidate on disk
    def artifact(self, model: Any, kind: str = HF, build: Callable[[Path], Any] | None = None) -> Path:
        """The folder holding the candidate written as `kind`, once per content: `hf` (a Hugging Face folder with
        its tokenizer, by default) or what `build(folder)` writes (a GGUF file, say)."""
        records = self.records
        if kind not in records.artifacts:
            if self.artifacts is None:
                raise RuntimeError(
                    "this context has no artifact store: build it with acf.Session (acf.testing.model_context does)"
                )
            if records.content_hash is None:
                writers = [type(m).__name__ for m in records.methods]
                records.content_hash = content_hash(model, records.tensor_formats, writers)
            key = f"{records.content_hash}-{kind.replace('/', '_')}"
            records.artifacts[kind] = self.artifacts.get(
                key, build or (lambda folder: write_candidate(model, folder, self))
            )
        return records.artifacts[kind]

    def checkpoint(self, model: Any) -> Path:
        """What a user of the candidate deploys: the file a step wrote as its deliverable (`deliverable` in the
        artifacts, e.g. the `gguf` method's GGUF file), else the Hugging Face folder."""
        kind = self.records.deliverable
        if kind:
            folder = self.artifact(model, kind)
            return next(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        return self.artifact(model, HF)

    def checkpoint_bytes(self, model: Any) -> tuple[int, int]:
        """Bytes on disk of `checkpoint(model)` (tokenizer files left out) and of the tensor data in it, read once
        per candidate."""
        if self.records.checkpoint_bytes is None:
            path = self.checkpoint(model)
            self.records.checkpoint_bytes = weight_bytes(path), tensor_bytes(path)
        return self.records.checkpoint_bytes

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
