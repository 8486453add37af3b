"""What only mlkube has: resources users can kubectl, object storage layout, workspaces as
namespaces, coalesced concurrent writes, durability across restarts, one writer per field."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import mlflow
import pytest
from e2e.cluster.cluster import LocalCluster
from minio import Minio
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from tests.integration.tracking.conftest import (
    TrackingServer,
    start_mlkube,
    stop,
    wait_healthy,
)


@pytest.fixture
def mlkube(mlkube_server: TrackingServer, monkeypatch: pytest.MonkeyPatch) -> TrackingServer:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlkube_server.url)
    mlflow.set_tracking_uri(mlkube_server.url)
    return mlkube_server


def kubectl_json(cluster: LocalCluster, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(cluster.kubectl(*args, "-o", "json"))  # type: ignore[no-any-return]


def s3_keys(cluster: LocalCluster, prefix: str) -> list[str]:
    s3 = cluster.s3
    endpoint = s3.endpoint.split("://", 1)[1]
    client = Minio(endpoint, s3.access_key, s3.secret_key, secure=False)
    return [o.object_name or "" for o in client.list_objects(s3.bucket, prefix, recursive=True)]


def test_runs_and_experiments_are_resources(mlkube: TrackingServer, cluster: LocalCluster) -> None:
    namespace = mlkube.namespace
    assert namespace is not None
    name = f"/Users/ada/Churn {uuid.uuid4().hex[:6]}"
    experiment_id = mlflow.create_experiment(name)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("loss", 0.25, step=3)
        mlflow.log_metric("bad", float("inf"))
        mlflow.set_tag("team", "risk")
    experiments = kubectl_json(cluster, "get", "experiments", "-n", namespace)["items"]
    [experiment] = [e for e in experiments if e["spec"].get("displayName") == name]
    assert experiment["metadata"]["name"].startswith("users-ada-churn-")
    assert experiment["status"]["experimentId"] == experiment_id
    resource = kubectl_json(cluster, "get", "run", run.info.run_id, "-n", namespace)
    assert resource["spec"]["experiment"] == experiment["metadata"]["name"]
    status = resource["status"]
    assert status["runId"] == run.info.run_id
    assert status["phase"] == "Succeeded"
    assert status["params"] == {"alpha": "0.5"}
    assert status["metrics"]["loss"] == {
        "value": 0.25,
        "timestamp": status["metrics"]["loss"]["timestamp"],
        "step": 3,
    }
    assert status["metrics"]["bad"]["nonFinite"] == "Infinity"
    assert status["tags"]["team"] == "risk"
    histories = s3_keys(
        cluster, f"{namespace}/experiments/{experiment_id}/{run.info.run_id}/metrics/"
    )
    assert histories  # metric histories live beside the run's artifacts


def test_workspaces_are_namespaces_with_global_ids(
    mlkube: TrackingServer, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = MlflowClient()
    name = f"shared-{uuid.uuid4().hex[:6]}"
    home = client.create_experiment(name)
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    other = client.create_experiment(name)  # the same name is free in another workspace
    assert other != home
    assert client.get_experiment_by_name(name).experiment_id == other
    with pytest.raises(MlflowException):
        client.get_experiment(home)
    assert client.get_experiment("0").name == "Default"  # each workspace has its own Default
    monkeypatch.delenv("MLFLOW_WORKSPACE")
    assert client.get_experiment_by_name(name).experiment_id == home


def test_concurrent_writers_to_one_run_lose_nothing(mlkube: TrackingServer) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(f"concurrent-{uuid.uuid4().hex[:6]}")
    run_id = client.create_run(experiment_id).info.run_id
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for step in range(10):
                client.log_batch(
                    run_id,
                    metrics=[Metric(f"w{worker}", float(step), 1_700_000_000_000 + step, step)],
                    params=[mlflow.entities.Param(f"p{worker}-{step}", "x")],
                )
        except BaseException as err:  # reported below, with the other threads' results
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    run = client.get_run(run_id)
    assert len(run.data.params) == 80
    assert {run.data.metrics[f"w{w}"] for w in range(8)} == {9.0}
    for worker in range(8):
        assert [m.step for m in client.get_metric_history(run_id, f"w{worker}")] == list(range(10))


def test_everything_survives_a_restart(
    mlkube: TrackingServer, cluster: LocalCluster, tmp_path: Path
) -> None:
    client = MlflowClient()
    experiment_id = client.create_experiment(f"durable-{uuid.uuid4().hex[:6]}")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "p", "1")
    client.log_metric(run_id, "m", 1.5, step=7)
    assert mlkube.namespace is not None
    process, url = start_mlkube(cluster, mlkube.namespace, tmp_path / "second.log")
    try:
        wait_healthy(url, process, tmp_path / "second.log")
        fresh = MlflowClient(tracking_uri=url)
        run = fresh.get_run(run_id)
        assert run.data.params == {"p": "1"}
        assert [(m.step, m.value) for m in fresh.get_metric_history(run_id, "m")] == [(7, 1.5)]
        assert fresh.get_experiment(experiment_id).experiment_id == experiment_id
    finally:
        stop(process)


def test_project_runs_keep_the_operators_fields(
    mlkube: TrackingServer, cluster: LocalCluster
) -> None:
    """For a Run with spec.project the operator owns phase and times: the server only logs."""
    namespace = mlkube.namespace
    assert namespace is not None
    run_id = uuid.uuid4().hex
    name = f"project-{run_id[:8]}"
    manifest = {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "Run",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"experiment": "default", "project": {"path": "/src"}},
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    MlflowClient().get_experiment("0")  # the Default experiment exists once used
    status = {"status": {"runId": run_id, "phase": "Running", "startTime": "2026-01-01T00:00:00Z"}}
    cluster.kubectl(
        "patch",
        "run",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )
    client = MlflowClient()
    deadline = 100
    while deadline:
        try:
            client.get_run(run_id)
            break
        except MlflowException:
            deadline -= 1
            threading.Event().wait(0.05)
    client.log_metric(run_id, "loss", 0.5)
    client.set_terminated(run_id, "FINISHED")
    resource = kubectl_json(cluster, "get", "run", name, "-n", namespace)
    assert resource["status"]["phase"] == "Running"  # still the operator's to change
    assert resource["status"]["metrics"]["loss"]["value"] == 0.5


def test_what_the_crd_refuses_is_a_400_naming_it(mlkube: TrackingServer) -> None:
    """Experiment tags live in spec.tags, which the CRD caps at 1000 entries."""
    tags = {f"t{i}": "v" for i in range(1001)}
    with pytest.raises(MlflowException) as caught:
        MlflowClient().create_experiment(f"many-tags-{uuid.uuid4().hex[:6]}", tags=tags)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "spec.tags" in caught.value.message
