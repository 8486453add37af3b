"""Issue 7, the REST half: MLflow's model registry API of the tracking server, driven by the
stock mlflow client against the local stack (tracking server + operator as host processes).

Each test works in its own namespace, which the client names as its workspace
(MLFLOW_WORKSPACE); registration (copy into the registry, MLmodel check) is the operator's.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.identities import auth_headers
from e2e.cluster.waiting import eventually

FEATURES = np.arange(40, dtype=float).reshape(20, 2)


@pytest.fixture
def client(
    operator: LocalCluster, tracking_uri: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """The stock client, talking to mlkube in the test's namespace."""
    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("registry-api")
    try:
        yield MlflowClient(tracking_uri)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()


def trained() -> LinearRegression:
    return LinearRegression().fit(FEATURES, FEATURES @ np.array([2.0, -1.0]) + 3.0)


def logged_model() -> tuple[str, str, LinearRegression]:
    """A scikit-learn model logged in a run, MLflow 3 style: (run id, logged model id, model)."""
    model = trained()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model")
    return run.info.run_id, info.model_id, model


def settled(client: MlflowClient, name: str, version: str) -> ModelVersion | None:
    found = client.get_model_version(name, version)
    return None if found.status == "PENDING_REGISTRATION" else found


def register_two_versions(
    client: MlflowClient, name: str, run_id: str, model_id: str, *, model: Any, tmp: Path
) -> None:
    """Version 1 from a logged model (MLflow 3), version 2 from files in a run's artifacts."""
    first = mlflow.register_model(f"runs:/{run_id}/model", name)
    assert first.version == "1"
    # register_model waited for READY; it answers with the version as created.
    first = client.get_model_version(name, "1")
    assert first.status == "READY"
    assert first.source == f"models:/{model_id}"
    assert first.run_id == run_id  # (the client does not read model_id from the answer)
    # register_model's last step: the logged model records its registered versions.
    links = client.get_logged_model(model_id).tags["mlflow.modelVersions"]
    assert f'"name": "{name}"' in links

    mlflow.sklearn.save_model(model, tmp / "packaged")
    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifacts(str(tmp / "packaged"), "packaged")
    second = mlflow.register_model(f"runs:/{run_id}/packaged", name)
    assert second.version == "2"
    second = client.get_model_version(name, "2")
    assert second.status == "READY"
    assert str(second.source).startswith("mlflow-artifacts:/")


def aliases_and_stages(client: MlflowClient, name: str) -> None:
    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    client.transition_model_version_stage(name, "1", "Production")
    moved = client.transition_model_version_stage(
        name, "2", "production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    production = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in production] == ["2"]


def tags_descriptions_and_search(client: MlflowClient, name: str, run_id: str) -> None:
    client.update_registered_model(name, description="daily demand forecast")
    client.set_registered_model_tag(name, "team", "supply")
    client.update_model_version(name, "2", description="retrained")
    client.set_model_version_tag(name, "2", "quality", "good")
    got = client.get_registered_model(name)
    assert (got.description, got.tags) == ("daily demand forecast", {"team": "supply"})
    version = client.get_model_version(name, "2")
    assert (version.description, version.tags) == ("retrained", {"quality": "good"})
    found = client.search_registered_models(filter_string="tags.team = 'supply'")
    assert [m.name for m in found] == [name]
    assert client.search_registered_models(filter_string="name LIKE 'Nothing%'") == []
    versions = client.search_model_versions(f"name = '{name}' AND tags.quality = 'good'")
    assert [v.version for v in versions] == ["2"]
    ordered = client.search_model_versions(f"name = '{name}'", order_by=["version_number ASC"])
    assert [v.version for v in ordered] == ["1", "2"]
    by_run = client.search_model_versions(f"run_id = '{run_id}'", order_by=["version_number"])
    assert [v.version for v in by_run] == ["1", "2"]


def test_register_alias_stage_tags_search_rename_load_and_delete(
    client: MlflowClient, cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    name = f"Forecast {uuid.uuid4().hex[:6]}"
    run_id, model_id, model = logged_model()
    register_two_versions(client, name, run_id, model_id, model=model, tmp=tmp_path)
    aliases_and_stages(client, name)
    tags_descriptions_and_search(client, name, run_id)

    # Loading by alias reads the registry's copy through the artifact proxy.
    assert client.get_model_version_download_uri(name, "1").startswith("mlflow-artifacts:/models/")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_allclose(loaded.predict(FEATURES), model.predict(FEATURES))

    new_name = f"Renamed {uuid.uuid4().hex[:6]}"
    client.rename_registered_model(name, new_name)
    assert client.get_model_version_by_alias(new_name, "champion").version == "1"
    by_stage = mlflow.pyfunc.load_model(f"models:/{new_name}/Production")
    np.testing.assert_allclose(by_stage.predict(FEATURES), model.predict(FEATURES))
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)

    client.delete_registered_model_alias(new_name, "champion")
    client.delete_model_version(new_name, "1")
    assert [v.version for v in client.search_model_versions(f"name = '{new_name}'")] == ["2"]
    client.delete_registered_model(new_name)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(new_name)

    def all_gone() -> bool:
        table = cluster.kubectl("get", "modelversions,registeredmodels", "-n", namespace)
        return table.strip() == ""

    eventually(all_gone, timeout=60, what="the versions and the model to go (finalizers)")


def test_twenty_concurrent_versions_are_numbered_one_to_twenty(
    client: MlflowClient, cluster: LocalCluster, namespace: str
) -> None:
    run_id, model_id, _ = logged_model()
    client.create_registered_model("busy")
    numbers: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            created = MlflowClient().create_model_version(
                "busy", f"models:/{model_id}", run_id=run_id, await_creation_for=0
            )
            numbers.append(created.version)
        except BaseException as err:  # reported below instead of dying with the thread
            errors.append(err)

    threads = [threading.Thread(target=register) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert errors == []
    assert sorted(numbers, key=int) == [str(n) for n in range(1, 21)]

    def all_ready() -> list[Any] | None:
        versions = client.search_model_versions("name = 'busy'")
        ready = [v for v in versions if v.status == "READY"]
        return ready if len(ready) == 20 else None

    ready = eventually(all_ready, timeout=180, what="20 READY versions", every=1)
    assert sorted(int(v.version) for v in ready) == list(range(1, 21))

    table = cluster.kubectl("get", "modelversions", "-n", namespace).splitlines()
    assert table[0].split()[:5] == ["NAME", "MODEL", "VERSION", "STAGE", "PHASE"]
    rows = sorted((r.split()[1:5] for r in table[1:]), key=lambda r: int(r[1]))
    assert rows == [["busy", str(n), "None", "Ready"] for n in range(1, 21)]


def test_a_source_without_an_mlmodel_fails_registration_saying_why(
    client: MlflowClient,
) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("just notes", "notes/readme.txt")
    client.create_registered_model("notes")
    source = f"runs:/{run.info.run_id}/notes"
    created = client.create_model_version(
        "notes", source, run_id=run.info.run_id, await_creation_for=0
    )
    assert created.status == "PENDING_REGISTRATION"
    failed = eventually(
        lambda: settled(client, "notes", created.version), timeout=60, what="registration"
    )
    assert failed.status == "FAILED_REGISTRATION"
    assert failed.status_message == (
        f"no MLmodel file at {source}: the source must be an MLflow model directory "
        "(found 1 other files)"
    )
    # register_model waits for the outcome and reports it (here from the artifact URI: for a
    # runs:/ URI without an MLmodel the client itself looks for a logged model first).
    with pytest.raises(MlflowException, match=r"FAILED_REGISTRATION.*no MLmodel file"):
        mlflow.register_model(f"{run.info.artifact_uri}/notes", "notes", await_registration_for=60)


def test_malformed_registry_requests_are_mlflow_style_4xx(
    client: MlflowClient, tracking_uri: str, namespace: str
) -> None:
    import httpx

    headers = {"X-MLFLOW-WORKSPACE": namespace, **auth_headers()}
    api = f"{tracking_uri}/api/2.0/mlflow"
    client.create_registered_model("strict")
    for method, path, body in [
        ("POST", "/registered-models/create", {"name": "a/b"}),
        ("POST", "/registered-models/create", {"name": "strict"}),
        ("GET", "/registered-models/search", {"filter": "name = 'x' OR name = 'y'"}),
        ("GET", "/registered-models/search", {"max_results": "5000"}),
        ("POST", "/model-versions/create", {"name": "strict", "source": "file:///etc"}),
        ("GET", "/model-versions/get", {"name": "strict", "version": "x"}),
        ("POST", "/registered-models/alias", {"name": "strict", "alias": "v1", "version": "1"}),
        ("POST", "/model-versions/transition-stage", {"name": "strict", "version": "1"}),
    ]:
        if method == "GET":
            response = httpx.get(api + path, params=body, headers=headers, timeout=30)
        else:
            response = httpx.request(method, api + path, json=body, headers=headers, timeout=30)
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert set(response.json()) == {"error_code", "message"}
    missing = httpx.get(
        api + "/model-versions/get", params={"name": "strict", "version": "3"}, headers=headers
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
