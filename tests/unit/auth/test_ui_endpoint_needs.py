"""Issue 14: what the endpoints MLflow's UI calls need of RBAC. A previewed file needs ``get`` on
its owner, whatever route names it; the dataset filter lists runs; trace queries read the
experiment; UI telemetry needs no token at all (http/telemetry.py says why)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.unit.auth.test_guard import USER_TOKEN, FakeKube, allow, bearer

from mlkube.objects import MemoryObjects
from mlkube_operator.server.auth.guard import KubernetesGuard
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

ADMIN_TOKEN = "admin-token"
EVERYTHING = [
    (verb, resource)
    for verb in ("get", "list", "create", "update")
    for resource in ("experiments", "runs", "loggedmodels", "registeredmodels", "modelversions")
]


@pytest.fixture
def kube() -> FakeKube:
    kube = FakeKube()
    kube.tokens[ADMIN_TOKEN] = (None, "system:serviceaccount:a:admin")
    allow(kube, "admin", "a", *EVERYTHING)
    return kube


@pytest.fixture
def client(kube: FakeKube) -> Iterator[TestClient]:
    guard = KubernetesGuard(kube, ["mlkube"])  # type: ignore[arg-type]
    services = Services(InMemoryStore(), MemoryObjects(), "a", "0.1.0", guard)
    with TestClient(build_app(services, InMemoryRegistryStore())) as test_client:
        yield test_client


def admin(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, headers=bearer(ADMIN_TOKEN), **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def logged(client: TestClient) -> dict[str, str]:
    """A run with a file, a logged model with a file, and version 1 of ``iris`` from the run."""
    api = "/api/2.0/mlflow"
    experiment = admin(client, "POST", f"{api}/experiments/create", json={"name": "e"})
    experiment_id = experiment["experiment_id"]
    run = admin(client, "POST", f"{api}/runs/create", json={"experiment_id": experiment_id})
    run_id = run["run"]["info"]["run_id"]
    model = admin(client, "POST", f"{api}/logged-models", json={"experiment_id": experiment_id})
    model_id = model["model"]["info"]["model_id"]
    files = "/api/2.0/mlflow-artifacts/artifacts"
    admin(client, "PUT", f"{files}/{experiment_id}/{run_id}/artifacts/model/MLmodel", content=b"r")
    admin(
        client, "PUT", f"{files}/{experiment_id}/models/{model_id}/artifacts/MLmodel", content=b"m"
    )
    admin(client, "POST", f"{api}/registered-models/create", json={"name": "iris"})
    version = {"name": "iris", "source": f"runs:/{run_id}/model"}
    admin(client, "POST", f"{api}/model-versions/create", json=version)
    return {"experiment": experiment_id, "run": run_id, "model": model_id}


def alice(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    return client.request(method, path, headers=bearer(USER_TOKEN), **kwargs)


def refused(response: Any, need: str) -> None:
    assert response.status_code == 403, response.text
    assert f"may not {need}.mlkube.io in namespace a" in response.json()["message"]


def run_file(client: TestClient, run_id: str) -> Any:
    return alice(
        client, "GET", "/get-artifact", params={"path": "model/MLmodel", "run_uuid": run_id}
    )


def model_file(client: TestClient, model_id: str) -> Any:
    path = f"/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"
    return alice(client, "GET", path, params={"artifact_file_path": "MLmodel"})


def version_file(client: TestClient) -> Any:
    params = {"path": "MLmodel", "name": "iris", "version": "1"}
    return alice(client, "GET", "/model-versions/get-artifact", params=params)


def test_previews_without_rights_are_refused(
    client: TestClient, kube: FakeKube, logged: dict[str, str]
) -> None:
    allow(kube, "alice", "a", ("list", "runs"), ("list", "loggedmodels"))

    refused(run_file(client, logged["run"]), "get runs")
    refused(model_file(client, logged["model"]), "get loggedmodels")
    refused(version_file(client), "get modelversions")


def test_previews_with_get_on_their_owner(
    client: TestClient, kube: FakeKube, logged: dict[str, str]
) -> None:
    allow(kube, "alice", "a", ("get", "runs"), ("get", "loggedmodels"))

    assert run_file(client, logged["run"]).content == b"r"
    assert model_file(client, logged["model"]).content == b"m"


def test_a_version_read_from_its_run_needs_the_run_too(
    client: TestClient, kube: FakeKube, logged: dict[str, str]
) -> None:
    """Until the operator copies a version into the registry, its files are its run's: reading
    them through the version must not bypass the run's rights."""
    allow(kube, "alice", "a", ("get", "modelversions"))

    refused(version_file(client), "get runs")


def test_a_version_with_both_rights(
    client: TestClient, kube: FakeKube, logged: dict[str, str]
) -> None:
    allow(kube, "alice", "a", ("get", "modelversions"), ("get", "runs"))

    assert version_file(client).content == b"r"


def test_dataset_summaries_list_runs_and_trace_queries_read_the_experiment(
    client: TestClient, kube: FakeKube, logged: dict[str, str]
) -> None:
    allow(kube, "alice", "a", ("get", "runs"), ("list", "experiments"))
    ids = {"experiment_ids": [logged["experiment"]]}
    datasets = "/ajax-api/2.0/mlflow/experiments/search-datasets"
    metrics = {
        **ids,
        "view_type": "TRACES",
        "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
    }
    search = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": ids}]}

    refused(alice(client, "POST", datasets, json=ids), "list runs")
    refused(
        alice(client, "POST", "/ajax-api/3.0/mlflow/traces/metrics", json=metrics),
        "get experiments",
    )
    refused(alice(client, "POST", "/api/3.0/mlflow/traces/search", json=search), "get experiments")


def test_ui_telemetry_needs_no_token(client: TestClient, kube: FakeKube) -> None:
    path = "/ajax-api/3.0/mlflow/ui-telemetry"

    config = client.get(path)
    posted = client.post(path, json={"records": [{"event_name": "x"}]})

    assert config.status_code == 200
    assert config.json()["disable_ui_telemetry"] is True
    assert posted.status_code == 200
    assert posted.json() == {"status": "disabled"}
    assert kube.token_reviews == 0
    assert kube.access_reviews == 0
