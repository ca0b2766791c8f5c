"""The MLflow tracker against a real local MLflow store, read back with MlflowClient."""

import json

import pytest

import acf

mlflow = pytest.importorskip("mlflow")  # the `mlflow` extra, part of `dev` (installed in CI)


def test_mlflow_round_trip(acf_tiny_model, gsm8k_file, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # the default store is ./mlruns
    result = acf.compress(
        str(acf_tiny_model),
        "gsm8k",
        run_dir=tmp_path / "run",
        episodes=3,
        methods=["rtn", "magnitude"],
        evaluators=["size"],
        track=["mlflow"],
        evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}},
    )
    uri = (tmp_path / "mlruns").as_uri()
    assert json.loads((tmp_path / "run" / "mlflow_run.json").read_text())["tracking_uri"] == uri
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("acf")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert parent.data.params["model"] == str(acf_tiny_model) and parent.data.params["episodes"] == "3"
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["hypervolume"] == pytest.approx(result.frontier.hypervolume)
    assert set(children) == {c.id for c in result.candidates}
    for c in result.candidates:
        child = children[c.id]
        assert child.data.params["step.1.method"] == c.strategy.steps[0].method
        assert child.data.metrics["gsm8k_loglik"] == pytest.approx(c.measurements["gsm8k_loglik"].value)
        assert child.data.metrics["size_mb"] == pytest.approx(c.measurements["size_mb"].value)
        assert child.data.metrics["reward"] == pytest.approx(c.reward)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"pareto_frontier.json", "final_results.json", "report.html"} <= artifacts


def test_a_failing_tracker_warns_and_the_run_goes_on(acf_tiny_model, gsm8k_file, tmp_path):
    from acf import Tracker, hookimpl
    from acf.testing import registered_plugin

    class Broken(Tracker):
        name = "broken"

        def episode(self, candidate):
            raise ConnectionError("tracking server down")

    class Plugin:
        @hookimpl
        def register_trackers(register):
            register(Broken)

    with registered_plugin(Plugin, name="broken-tracker"):
        with pytest.warns(UserWarning, match="tracker broken failed at episode: ConnectionError"):
            result = acf.compress(
                str(acf_tiny_model),
                "gsm8k",
                run_dir=tmp_path / "run",
                episodes=2,
                methods=["rtn"],
                evaluators=["size"],
                track=["broken"],
                evaluator_options={"gsm8k": {"data_path": str(gsm8k_file), "limit": 6}},
            )
    assert len(result.candidates) == 2 and (tmp_path / "run" / "final_results.json").is_file()
