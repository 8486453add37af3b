"""The stock mlflow client against `mlkube server` and, unchanged, against `mlflow server`.

Every test runs twice (the ``server`` fixture): what passes against MLflow's own server is
MLflow's behaviour, so passing against mlkube means the client cannot tell them apart.
"""

from __future__ import annotations

import hashlib
import math
import os
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression
from tests.integration.tracking.conftest import TrackingServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_fluent_run_params_metrics_tags_artifacts(tracking: TrackingServer, tmp_path: Path) -> None:
    experiment = mlflow.set_experiment(unique("fluent"))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "a.json").write_text('{"a": 1}')
    (tmp_path / "dir" / "sub" / "b.csv").write_text("x,y\n1,2\n")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"layers": 3, "act": "relu"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.75, "weird": float("nan")}, step=2)
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"team": "risk", "owner": "ada"})
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
        mlflow.log_artifacts(str(tmp_path / "dir"), artifact_path="bundle")
        mlflow.log_dict({"k": [1, 2]}, "config/params.json")
    client = MlflowClient()
    got = client.get_run(run.info.run_id)
    assert got.info.experiment_id == experiment.experiment_id
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "first"
    assert got.info.end_time is not None
    assert got.info.end_time >= got.info.start_time
    assert got.data.params == {"alpha": "0.5", "layers": "3", "act": "relu"}
    assert got.data.metrics["loss"] == pytest.approx(0.2)
    assert got.data.metrics["acc"] == 0.75
    assert math.isnan(got.data.metrics["weird"])
    assert {"stage": "dev", "team": "risk", "owner": "ada"}.items() <= got.data.tags.items()
    assert got.data.tags["mlflow.runName"] == "first"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    top = {f.path: f.is_dir for f in client.list_artifacts(run.info.run_id)}
    assert top == {"notes.txt": False, "bundle": True, "config": True}
    bundle = sorted(f.path for f in client.list_artifacts(run.info.run_id, "bundle"))
    assert bundle == ["bundle/a.json", "bundle/sub"]
    local = client.download_artifacts(run.info.run_id, "bundle", str(tmp_path / "down"))
    assert (Path(local) / "sub" / "b.csv").read_text() == "x,y\n1,2\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config/params.json") == {
        "k": [1, 2]
    }


def test_client_api_batch_update_and_tags(tracking: TrackingServer) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("client"), tags={"team": "a"})
    run = client.create_run(experiment_id, run_name="batch", tags={"src": "test"})
    run_id = run.info.run_id
    assert run.info.status == "RUNNING"
    assert run.info.artifact_uri.endswith(f"{run_id}/artifacts")
    metrics = [Metric(f"m{i % 10}", float(i), 1_700_000_000_000 + i, i) for i in range(500)]
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(f"p{i}", str(i)) for i in range(10)],
        tags=[RunTag("t", "v")],
    )
    got = client.get_run(run_id)
    assert got.data.metrics["m9"] == 499.0
    assert len(got.data.params) == 10
    assert [m.value for m in client.get_metric_history(run_id, "m3")] == [
        float(i) for i in range(3, 500, 10)
    ]
    client.set_tag(run_id, "gone", "soon")
    client.delete_tag(run_id, "gone")
    assert "gone" not in client.get_run(run_id).data.tags
    client.update_run(run_id, name="renamed")
    assert client.get_run(run_id).info.run_name == "renamed"
    client.set_terminated(run_id, status="FAILED")
    assert client.get_run(run_id).info.status == "FAILED"
    with pytest.raises(MlflowException) as caught:
        client.get_run("0" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_params_are_immutable(tracking: TrackingServer) -> None:
    mlflow.set_experiment(unique("params"))
    with mlflow.start_run():
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")
        with pytest.raises(MlflowException) as caught:
            mlflow.log_param("lr", "0.2")
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_experiments_crud_and_search(tracking: TrackingServer) -> None:
    client = MlflowClient()
    name = unique("/Users/ada/Churn Model")
    experiment_id = client.create_experiment(name, tags={"team": "risk"})
    assert client.get_experiment_by_name(name).experiment_id == experiment_id
    with pytest.raises(MlflowException) as caught:
        client.create_experiment(name)
    assert caught.value.error_code == "RESOURCE_ALREADY_EXISTS"
    renamed = unique("renamed")
    client.rename_experiment(experiment_id, renamed)
    client.set_experiment_tag(experiment_id, "k", "v")
    client.delete_experiment_tag(experiment_id, "team")
    got = client.get_experiment(experiment_id)
    assert got.name == renamed
    assert got.tags == {"k": "v"}
    found = client.search_experiments(filter_string=f"name = '{renamed}'")
    assert [e.experiment_id for e in found] == [experiment_id]
    found = client.search_experiments(filter_string="tags.k = 'v'", order_by=["name ASC"])
    assert experiment_id in [e.experiment_id for e in found]
    default = client.get_experiment("0")
    assert default.name == "Default"
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    active = client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)
    assert experiment_id not in [e.experiment_id for e in active]
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY, max_results=50000)
    assert experiment_id in [e.experiment_id for e in deleted]
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_delete_and_restore_runs(tracking: TrackingServer) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("delete"))
    run_id = client.create_run(experiment_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    deleted = client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    client.restore_run(run_id)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run_id]
    client.delete_experiment(experiment_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_experiment(experiment_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_search_runs_filters_order_and_pages(tracking: TrackingServer) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("search"))
    ids = []
    for i in range(6):
        run = client.create_run(experiment_id, start_time=1_700_000_000_000 + i, tags={"i": str(i)})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", 1.0 - i / 10, 1, 0)],
            params=[Param("model", "big" if i % 2 else "small")],
        )
        ids.append(run.info.run_id)
    found = client.search_runs(
        [experiment_id], "params.model = 'big' and metrics.loss < 0.95", order_by=["metrics.loss"]
    )
    assert [r.info.run_id for r in found] == [ids[5], ids[3], ids[1]]
    newest = client.search_runs([experiment_id], order_by=["attributes.start_time DESC"])
    assert [r.info.run_id for r in newest] == ids[::-1]
    by_tag = client.search_runs([experiment_id], "tags.i LIKE '%3' and params.model != 'small'")
    assert [r.info.run_id for r in by_tag] == [ids[3]]
    chosen = client.search_runs([experiment_id], f"attributes.run_id IN ('{ids[0]}', '{ids[2]}')")
    assert sorted(r.info.run_id for r in chosen) == sorted([ids[0], ids[2]])
    page = client.search_runs([experiment_id], max_results=4, order_by=["metrics.loss DESC"])
    assert [r.info.run_id for r in page] == ids[:4]
    rest = client.search_runs(
        [experiment_id], max_results=4, order_by=["metrics.loss DESC"], page_token=page.token
    )
    assert [r.info.run_id for r in rest] == ids[4:]
    assert rest.token is None
    frame = mlflow.search_runs([experiment_id], filter_string="metrics.loss >= 0.8")
    assert len(frame) == 3
    with pytest.raises(MlflowException) as caught:
        client.search_runs([experiment_id], "metrics.loss = 1 OR metrics.loss = 2")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_log_model_of_scikit_learn_and_load_it(tracking: TrackingServer) -> None:
    mlflow.set_experiment(unique("models"))
    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    labels = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(features, labels)
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 1.0)
        info = mlflow.sklearn.log_model(model, name="classifier", input_example=features[:1])
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict(features)) == [0, 1, 0, 1]
    client = MlflowClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.status == "READY"
    assert logged.source_run_id == run.info.run_id
    assert [m.key for m in logged.metrics] == ["accuracy"]
    client.set_logged_model_tags(info.model_id, {"quality": "gold"})
    client.delete_logged_model_tag(info.model_id, "quality")
    assert "quality" not in client.get_logged_model(info.model_id).tags
    found = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert [m.model_id for m in found] == [info.model_id]
    outputs = client.get_run(run.info.run_id).outputs
    assert outputs is not None
    assert [o.model_id for o in outputs.model_outputs] == [info.model_id]
    files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in files


def test_dataset_inputs(tracking: TrackingServer) -> None:
    mlflow.set_experiment(unique("inputs"))
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="toy")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    got = MlflowClient().get_run(run.info.run_id)
    assert got.inputs is not None
    [dataset_input] = got.inputs.dataset_inputs
    assert dataset_input.dataset.name == "toy"
    assert dataset_input.dataset.digest == dataset.digest
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"


def test_large_artifact_multipart_and_delete(
    tracking: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mlkube takes the multipart path (parts through the server, composed in object storage);
    # MLflow's local artifact store answers "unsupported" and the client falls back to one PUT.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    payload = os.urandom(11 * 1024 * 1024 + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    mlflow.set_experiment(unique("big"))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(source), "blobs")
    client = MlflowClient()
    [info] = client.list_artifacts(run.info.run_id, "blobs")
    assert info.file_size == len(payload)
    local = client.download_artifacts(run.info.run_id, "blobs/big.bin", str(tmp_path / "down"))
    assert hashlib.sha256(Path(local).read_bytes()).digest() == hashlib.sha256(payload).digest()
    repository = mlflow.store.artifact.artifact_repository_registry.get_artifact_repository(
        run.info.artifact_uri
    )
    repository.delete_artifacts("blobs")
    assert client.list_artifacts(run.info.run_id, "blobs") == []
