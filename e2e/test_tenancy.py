"""Issue 13: a namespace is a workspace, and Kubernetes decides who uses it.

Two namespaces, two ServiceAccounts, each with an edit Role on mlkube's resources in its own
namespace only. The stock mlflow client with A's token works in `a` and is refused (403, naming
the verb, resource and namespace) in `b` for runs, artifacts, registered models, versions,
aliases and logged models; without a token it is 401.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.identities import namespaced_editor


@pytest.fixture
def pair(namespace: str, other_namespace: str) -> tuple[str, str]:
    """Namespaces `a` and `b`."""
    return namespace, other_namespace


def act_as(
    monkeypatch: pytest.MonkeyPatch, tracking_uri: str, token: str, workspace: str
) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_WORKSPACE", workspace)
    mlflow.set_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri)


def refused(action: Callable[[], Any], verb: str, resource: str, namespace: str) -> None:
    """The action fails with the server's 403 (the client raises MlflowException for API calls
    and requests' HTTPError for artifact uploads)."""
    with pytest.raises((MlflowException, requests.HTTPError)) as caught:
        action()
    text = str(caught.value)
    assert "PERMISSION_DENIED" in text or "403" in text, text
    assert f"may not {verb} {resource}.mlkube.io in namespace {namespace}" in text, text


def test_a_token_works_in_its_namespace_and_is_refused_in_another(
    operator: LocalCluster,
    tracking_uri: str,
    pair: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    a, b = pair
    alice = namespaced_editor(operator, a, "alice")
    bob = namespaced_editor(operator, b, "bob")

    # Bob's things in b.
    client = act_as(monkeypatch, tracking_uri, bob, b)
    experiment_id = client.create_experiment("bobs")
    model = LinearRegression().fit(np.eye(3), np.arange(3.0))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("alpha", 1)
        mlflow.log_text("secret", "notes.txt")
        logged = mlflow.sklearn.log_model(model, name="model")
    client.create_registered_model("shared")
    client.create_model_version("shared", f"runs:/{run.info.run_id}/model", run.info.run_id)

    # Alice works in a.
    client = act_as(monkeypatch, tracking_uri, alice, a)
    own = client.create_experiment("alices")
    with mlflow.start_run(experiment_id=own):
        mlflow.log_metric("loss", 0.5)
        mlflow.log_text("mine", "notes.txt")

    # ... and is refused in b, whatever she touches.
    client = act_as(monkeypatch, tracking_uri, alice, b)
    run_id = run.info.run_id
    refused(lambda: client.get_run(run_id), "get", "runs", b)
    refused(lambda: client.search_runs([experiment_id]), "list", "runs", b)
    refused(lambda: client.log_metric(run_id, "loss", 9.0), "update", "runs", b)
    refused(lambda: client.create_experiment("intruder"), "create", "experiments", b)
    refused(lambda: client.download_artifacts(run_id, "notes.txt", str(tmp_path)), "get", "runs", b)
    (tmp_path / "model.pkl").write_text("not a model")
    refused(
        lambda: client.log_artifact(run_id, str(tmp_path / "model.pkl"), "model"),
        "update",
        "runs",
        b,
    )
    refused(lambda: client.get_registered_model("shared"), "get", "registeredmodels", b)
    refused(lambda: client.create_registered_model("mine"), "create", "registeredmodels", b)
    refused(lambda: client.get_model_version("shared", "1"), "get", "modelversions", b)
    # The client reads the model before it sets an alias; the write alone is refused too.
    refused(
        lambda: client.set_registered_model_alias("shared", "prod", "1"),
        "get",
        "registeredmodels",
        b,
    )
    alias = httpx.post(
        f"{tracking_uri}/api/2.0/mlflow/registered-models/alias",
        json={"name": "shared", "alias": "prod", "version": "1"},
        headers={"Authorization": f"Bearer {alice}", "X-MLFLOW-WORKSPACE": b},
        timeout=30,
    )
    assert alias.status_code == 403
    assert f"may not update registeredmodels.mlkube.io in namespace {b}" in alias.text
    refused(lambda: client.get_logged_model(logged.model_id), "get", "loggedmodels", b)
    refused(
        lambda: client.search_logged_models(experiment_ids=[experiment_id]),
        "list",
        "loggedmodels",
        b,
    )

    # Bob's things are as he left them.
    client = act_as(monkeypatch, tracking_uri, bob, b)
    assert "loss" not in client.get_run(run_id).data.metrics
    assert client.get_registered_model("shared").aliases == {}
    listing = client.list_artifacts(run_id, "model")
    assert "model.pkl" not in {Path(f.path).name for f in listing} or all(
        f.file_size != len("not a model") for f in listing
    )


def test_no_token_is_401(operator: LocalCluster, tracking_uri: str, namespace: str) -> None:
    response = httpx.post(
        f"{tracking_uri}/api/2.0/mlflow/experiments/search",
        json={"max_results": 10},
        headers={"X-MLFLOW-WORKSPACE": namespace},
        timeout=30,
    )
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    workspaces = httpx.get(f"{tracking_uri}/api/3.0/mlflow/workspaces", timeout=30)
    assert workspaces.status_code == 401


def test_the_workspace_list_shows_only_the_callers_namespaces(
    operator: LocalCluster, tracking_uri: str, namespace: str, other_namespace: str
) -> None:
    alice = namespaced_editor(operator, namespace, "alice")
    response = httpx.get(
        f"{tracking_uri}/api/3.0/mlflow/workspaces",
        headers={"Authorization": f"Bearer {alice}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"workspaces": [{"name": namespace}]}
