"""MLflow: one MLflow run per acf run, a nested run per episode, the frontier and report as artifacts."""

from __future__ import annotations

import json
import os
from pathlib import Path

from acf import Tracker
from acf.toolkit import atomic_write_json, import_backend, read_json, run_summary_files, write_report

ID_FILE = "mlflow_run.json"
EXPERIMENT = "acf"


def flat_params(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for k, v in value.items():
            flat_params(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value, 1):
            flat_params(f"{prefix}.{i}", v, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return out


class MLflowTracker(Tracker):
    name = "mlflow"
    description = "MLflow tracking: a run per acf run, nested runs per episode (default store ./mlruns)"

    def __init__(self, uri: str | None = None):
        super().__init__(uri)
        self.mlflow = import_backend("mlflow", package="mlflow-skinny", extra="mlflow", purpose="the mlflow tracker")
        if uri is None and not os.environ.get("MLFLOW_TRACKING_URI"):
            # The documented default: a local file store. MLflow 3 keeps it in maintenance mode behind a flag.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = Path("mlruns").resolve().as_uri()
        if uri is not None and uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.uri = uri or os.environ["MLFLOW_TRACKING_URI"]
        self.client = self.mlflow.tracking.MlflowClient(tracking_uri=self.uri)
        self.parent: str | None = None

    def start(self, run_dir, config, spec) -> None:
        run_dir = Path(run_dir)
        known = run_dir / ID_FILE
        if known.is_file():
            self.parent = read_json(known)["run_id"]
            self.client.update_run(self.parent, status="RUNNING")
            return
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(EXPERIMENT)
        run = self.client.create_run(
            experiment_id,
            run_name=run_dir.name,
            tags={"acf.run_dir": str(run_dir.resolve()), "acf.model": config.model, "acf.dataset": config.dataset},
        )
        self.parent = run.info.run_id
        params = flat_params("", config.model_dump(mode="json"), {})
        params.update(
            flat_params(
                "spec",
                {k: spec.get(k) for k in ("architecture", "num_parameters", "num_layers", "hidden_size", "dtype")},
                {},
            )
        )
        for key, value in params.items():
            self.client.log_param(self.parent, key, str(value)[:6000])
        atomic_write_json(known, {"run_id": self.parent, "tracking_uri": self.uri})

    def episode(self, candidate) -> None:
        child = self.client.create_run(
            self.client.get_run(self.parent).info.experiment_id,
            run_name=candidate.id,
            tags={
                "mlflow.parentRunId": self.parent,
                "acf.status": candidate.status,
                "acf.reason": (candidate.reason or "")[:5000],
                "acf.types.strategy": candidate.strategy.describe()[:5000],
            },
        )
        cid = child.info.run_id
        params = flat_params("step", [s.model_dump(mode="json") for s in candidate.strategy.steps], {})
        for key, value in params.items():
            self.client.log_param(cid, key, str(value)[:6000])
        for name, m in candidate.measurements.items():
            self.client.log_metric(cid, name, m.value)
            self.client.log_metric(cid, f"{name}.low", m.low)
            self.client.log_metric(cid, f"{name}.high", m.high)
        if candidate.reward is not None:
            self.client.log_metric(cid, "reward", candidate.reward)
            self.client.log_metric(self.parent, "reward", candidate.reward, step=candidate.episode)
        self.client.set_terminated(cid, "FINISHED" if candidate.status == "ok" else "FAILED")

    def finish(self, run_dir, final) -> None:
        run_dir = Path(run_dir)
        write_report(run_dir)
        for path in run_summary_files(run_dir):
            self.client.log_artifact(self.parent, str(path))
        if final.get("hypervolume") is not None:
            self.client.log_metric(self.parent, "hypervolume", final["hypervolume"])
        self.client.set_terminated(self.parent, "FINISHED")
