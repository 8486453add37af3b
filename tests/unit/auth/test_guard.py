"""The tracking server's door (issue 13): every endpoint authenticates the bearer token with a
TokenReview and authorises its need with a SubjectAccessReview in the request's workspace; the
answers are cached briefly; refusals are 401/403 in MLflow's shape and counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from starlette.routing import Route
from starlette.testclient import TestClient
from tests.unit.auth.fake_kube import POD_TOKEN, USER_TOKEN, FakeKube, allow, bearer

from mlkube.objects import MemoryObjects
from mlkube_operator.server.auth.guard import KubernetesGuard
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.http.part_urls import LIFETIME_SECONDS, Part, PartSigner
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

OPEN = {
    "/health",
    "/version",
    "/api/3.0/mlflow/server-info",
    "/ajax-api/3.0/mlflow/server-info",
    # MLflow's web UI bundle (issue 14): public code; the API calls it makes carry the token.
    "/",
    "/static-files/{path:path}",
    # The UI's telemetry: constant answers, nothing kept (http/telemetry.py).
    "/ajax-api/3.0/mlflow/ui-telemetry",
    # The API's OpenAPI document (issue 17): its shape as the open source code has it, no data.
    "/api/2.0/mlflow/openapi.json",
}


@pytest.fixture
def kube() -> FakeKube:
    return FakeKube()


@pytest.fixture
def client(kube: FakeKube, tmp_path: Path) -> Iterator[TestClient]:
    guard = KubernetesGuard(kube, ["mlkube"])  # type: ignore[arg-type]
    services = Services(InMemoryStore(), MemoryObjects(), "a", "0.1.0", guard)
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<html></html>")
    (ui / "favicon.ico").write_bytes(b"\0\0\1\0")
    app = build_app(services, InMemoryRegistryStore(), ui_dir=ui)
    with TestClient(app) as test_client:
        yield test_client


def denied(reason: str, verb: str, resource: str) -> float:
    labels = {"reason": reason, "verb": verb, "resource": resource}
    return REGISTRY.get_sample_value("mlkube_server_denied_requests_total", labels) or 0.0


def test_every_endpoint_but_health_version_server_info_and_the_ui_wants_a_token(
    client: TestClient,
) -> None:
    app = client.app
    routes = [r for r in app.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    assert len(routes) > 100
    for route in routes:
        path = route.path.replace("{path:path}", "1/abc/artifacts/x").replace("{action}", "create")
        path = path.format(model_id="m-" + "0" * 32, tag_key="k", name="a")
        if route.path.startswith("/static-files/"):
            path = "/static-files/favicon.ico"
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            response = client.request(method, path, headers={"X-MLFLOW-WORKSPACE": "a"})
            if route.path in OPEN:
                assert response.status_code == 200, (method, path)
            else:
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_no_token_is_401_naming_the_fix_and_counted(client: TestClient) -> None:
    before = denied("unauthenticated", "create", "experiments")
    response = client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": "x"},
        headers={"X-MLFLOW-WORKSPACE": "a"},
    )
    assert response.status_code == 401
    assert "MLFLOW_TRACKING_TOKEN" in response.json()["message"]
    assert denied("unauthenticated", "create", "experiments") == before + 1
    basic = client.get(
        "/api/2.0/mlflow/experiments/search", headers={"Authorization": "Basic dTpw"}
    )
    assert basic.status_code == 401
    assert "Bearer" in basic.json()["message"]


def test_a_token_the_cluster_refuses_is_401_and_reviewed_once_while_remembered(
    client: TestClient, kube: FakeKube
) -> None:
    for _ in range(5):
        response = client.get("/api/2.0/mlflow/experiments/search", headers=bearer("forged"))
        assert response.status_code == 401
        assert "does not accept" in response.json()["message"]
    assert kube.token_reviews == 2  # once for the pod audience, once for the API server's


def test_rbac_decides_with_the_endpoints_verb_in_the_workspace_namespace(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "alice", "a", ("create", "experiments"), ("get", "experiments"))
    created = client.post(
        "/api/2.0/mlflow/experiments/create", json={"name": "mine"}, headers=bearer(USER_TOKEN)
    )
    assert created.status_code == 200, created.text
    before = denied("forbidden", "create", "experiments")
    other = client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": "theirs"},
        headers=bearer(USER_TOKEN, workspace="b"),
    )
    assert other.status_code == 403
    body = other.json()
    assert body["error_code"] == "PERMISSION_DENIED"
    assert "may not create experiments.mlkube.io in namespace b" in body["message"]
    assert denied("forbidden", "create", "experiments") == before + 1
    # Reading is not writing: get is granted, delete is not.
    experiment_id = created.json()["experiment_id"]
    got = client.get(
        "/api/2.0/mlflow/experiments/get",
        params={"experiment_id": experiment_id},
        headers=bearer(USER_TOKEN),
    )
    assert got.status_code == 200
    gone = client.post(
        "/api/2.0/mlflow/experiments/delete",
        json={"experiment_id": experiment_id},
        headers=bearer(USER_TOKEN),
    )
    assert gone.status_code == 403
    assert "may not delete experiments" in gone.json()["message"]


def test_answers_are_remembered_so_a_busy_client_costs_no_reviews(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "alice", "a", ("list", "experiments"))
    for _ in range(20):
        response = client.get("/api/2.0/mlflow/experiments/search", headers=bearer(USER_TOKEN))
        assert response.status_code == 200
    assert kube.access_reviews == 1
    assert kube.token_reviews == 2  # the pod audience first, then the API server's


def test_pod_tokens_for_the_mlkube_audience_are_accepted(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "mlkube-run", "a", ("list", "runs"))
    response = client.post(
        "/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"]}, headers=bearer(POD_TOKEN)
    )
    assert response.status_code == 200, response.text
    assert kube.token_reviews == 1


def test_artifacts_follow_their_owners_rights(client: TestClient, kube: FakeKube) -> None:
    allow(kube, "alice", "a", ("get", "runs"), ("get", "modelversions"))
    run_file = "/api/2.0/mlflow-artifacts/artifacts/1/" + "a" * 32 + "/artifacts/model.pkl"
    put = client.put(run_file, content=b"x", headers=bearer(USER_TOKEN))
    assert put.status_code == 403
    assert "may not update runs.mlkube.io in namespace a" in put.json()["message"]
    model_file = "/api/2.0/mlflow-artifacts/artifacts/1/models/m-" + "b" * 32 + "/artifacts/f"
    read = client.get(model_file, headers=bearer(USER_TOKEN))
    assert read.status_code == 403
    assert "may not get loggedmodels.mlkube.io" in read.json()["message"]
    copy = client.get(
        "/api/2.0/mlflow-artifacts/artifacts",
        params={"path": "models/iris/1"},
        headers=bearer(USER_TOKEN),
    )
    assert copy.status_code == 200, copy.text  # a registry copy: get on modelversions


def test_registry_aliases_need_update_on_the_registered_model(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "alice", "b", ("get", "registeredmodels"), ("get", "modelversions"))
    response = client.post(
        "/api/2.0/mlflow/registered-models/alias",
        json={"name": "iris", "alias": "prod", "version": "1"},
        headers=bearer(USER_TOKEN, workspace="b"),
    )
    assert response.status_code == 403
    assert "may not update registeredmodels.mlkube.io in namespace b" in response.json()["message"]


def test_the_workspace_list_holds_only_namespaces_the_caller_may_use(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "alice", "a", ("list", "experiments"))
    listed = client.get("/api/3.0/mlflow/workspaces", headers=bearer(USER_TOKEN))
    assert listed.status_code == 200
    assert listed.json() == {"workspaces": [{"name": "a"}]}
    assert client.get("/api/3.0/mlflow/workspaces/a", headers=bearer(USER_TOKEN)).status_code == 200
    assert client.get("/api/3.0/mlflow/workspaces/b", headers=bearer(USER_TOKEN)).status_code == 403
    assert client.get("/api/3.0/mlflow/workspaces").status_code == 401


def test_project_archives_need_create_on_runs_to_upload_and_get_to_fetch(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "alice", "a", ("get", "runs"))
    archive = "/api/2.0/mlflow-artifacts/artifacts/projects/" + "c" * 64 + ".tar.gz"
    upload = client.put(archive, content=b"x", headers=bearer(USER_TOKEN))
    assert upload.status_code == 403
    assert "may not create runs.mlkube.io in namespace a" in upload.json()["message"]


def test_registering_a_version_needs_read_rights_on_its_source_too(
    client: TestClient, kube: FakeKube
) -> None:
    allow(kube, "alice", "a", ("create", "modelversions"))
    response = client.post(
        "/api/2.0/mlflow/model-versions/create",
        json={"name": "iris", "source": "runs:/" + "a" * 32 + "/model"},
        headers=bearer(USER_TOKEN),
    )
    assert response.status_code == 403
    assert "may not get runs.mlkube.io in namespace a" in response.json()["message"]


def test_multipart_parts_go_with_their_signed_urls_and_nothing_else(
    client: TestClient, kube: FakeKube
) -> None:
    """MLflow's client PUTs parts without its token, to the URLs mpu/create signed (as S3's
    presigned ones); a changed, unsigned or foreign part URL is refused."""
    allow(kube, "alice", "a", ("create", "runs"), ("update", "runs"), ("get", "runs"))
    run = client.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}, headers=bearer(USER_TOKEN)
    )
    assert run.status_code == 200, run.text
    directory = f"0/{run.json()['run']['info']['run_id']}/artifacts/blobs"
    mpu = "/api/2.0/mlflow-artifacts/mpu"
    created = client.post(
        f"{mpu}/create/{directory}",
        json={"path": "big.bin", "num_parts": 2},
        headers=bearer(USER_TOKEN),
    )
    assert created.status_code == 200, created.text
    first, second = (
        c["url"].replace("http://testserver", "") for c in created.json()["credentials"]
    )
    assert client.put(first, content=b"a", headers={"X-MLFLOW-WORKSPACE": "a"}).status_code == 200
    # The signature binds the part number, the path and the workspace.
    swapped = second.replace("part_number=2", "part_number=3")
    assert client.put(swapped, content=b"b").status_code == 401
    elsewhere = second.replace("/blobs?", "/other?")
    assert client.put(elsewhere, content=b"b").status_code == 401
    assert client.put(second, content=b"b", headers={"X-MLFLOW-WORKSPACE": "b"}).status_code == 401
    unsigned = second.split("&expires=")[0]
    assert client.put(unsigned, content=b"b").status_code == 401
    assert client.put(second, content=b"b").status_code == 200


def test_a_part_url_expires() -> None:
    now = [1000.0]
    signer = PartSigner(b"k" * 32, clock=lambda: now[0])
    part = Part("a", "0/r/artifacts/x", "u" * 32, 1)
    query = dict(pair.split("=") for pair in signer.query(part).split("&"))
    assert signer.admits(part, int(query["expires"]), query["signature"])
    now[0] += LIFETIME_SECONDS + 1
    assert not signer.admits(part, int(query["expires"]), query["signature"])
    other = PartSigner.from_secret("s3 secret")
    assert not other.admits(part, int(query["expires"]) + 10**9, query["signature"])
