"""A tracking server that serves given namespaces only (MLKUBE_WATCH_NAMESPACES, the chart's
operator.watchNamespaces): its rights are Roles in those namespaces, so it watches each of them
and nothing cluster-wide, lists no namespaces, and refuses any other workspace before a store
call (server/served.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mlkube.api.kinds import (
    EXPERIMENT,
    MODEL_DEPLOYMENT,
    MODEL_VERSION,
    REGISTERED_MODEL,
    RUN,
    Kind,
)
from mlkube.objects import MemoryObjects
from mlkube_operator.server.auth.guard import KubernetesGuard, SingleUser
from mlkube_operator.server.entities import ViewType
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.main import guard
from mlkube_operator.server.served import Served
from mlkube_operator.server.settings import ServerSettings
from mlkube_operator.server.store.registry.kube.store import KubeRegistryStore
from mlkube_operator.server.store.registry.memory import InMemoryRegistryStore
from mlkube_operator.server.store.tracking.kube.store import KubeStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

SERVED = ("team-a", "team-b")
TOKEN = "token"


# -- settings ---------------------------------------------------------------------------------


def test_the_served_namespaces_come_from_the_environment() -> None:
    env = {"MLKUBE_WATCH_NAMESPACES": "team-a, team-b,"}
    settings = ServerSettings.parse(["--namespace", "team-b"], env)
    assert settings.watch_namespaces == ["team-a", "team-b"]
    assert settings.served == Served(SERVED)
    assert ServerSettings.parse([], {}).served == Served(())  # empty: every namespace


def test_a_default_workspace_outside_them_stops_the_server_at_start_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        ServerSettings.parse(["--namespace", "default"], {"MLKUBE_WATCH_NAMESPACES": "team-a"})
    err = capsys.readouterr().err
    assert "default workspace 'default'" in err
    assert "MLKUBE_WATCH_NAMESPACES=team-a" in err
    assert "server.defaultWorkspace" in err
    with pytest.raises(SystemExit):
        ServerSettings.parse(["--namespace", "a"], {"MLKUBE_WATCH_NAMESPACES": "a,Not_A_Name"})
    assert "'Not_A_Name' is not a namespace name" in capsys.readouterr().err


def test_single_user_mode_offers_the_served_namespaces_as_workspaces() -> None:
    env = {"MLKUBE_WATCH_NAMESPACES": "team-b,team-a"}
    settings = ServerSettings.parse(["--namespace", "team-a", "--auth", "none"], env)
    door = guard(settings)
    assert isinstance(door, SingleUser)
    assert door.workspaces(None) == ["team-a", "team-b"]


# -- the stores watch each namespace ----------------------------------------------------------


class QuietWatch:
    """A watch that delivers no event until it is closed."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        self.closed.wait(0.2)
        return iter(())

    def close(self) -> None:
        self.closed.set()


class NamespacedApi:
    """The API server as a ServiceAccount bound to Roles in SERVED sees it: a cluster-wide list
    or watch is forbidden (here: fails the test), a namespace's list answers its objects."""

    def __init__(self, *objects: dict[str, Any]) -> None:
        self.objects = objects
        self.listed: list[tuple[str, str]] = []

    def list(
        self, kind: Kind, namespace: str | None = None, selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        assert namespace in SERVED, f"listed {kind.plural} in {namespace or 'every namespace'}"
        self.listed.append((kind.plural, namespace))
        found = [
            o
            for o in self.objects
            if o["kind"] == kind.kind and o["metadata"]["namespace"] == namespace
        ]
        return found, "1"

    def watch(
        self, kind: Kind, resource_version: str, namespace: str | None = None, timeout: int = 60
    ) -> QuietWatch:
        assert namespace in SERVED, f"watched {kind.plural} in {namespace or 'every namespace'}"
        return QuietWatch()


def obj(kind: Kind, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace, "uid": f"{namespace}-{name}"}
    return {"kind": kind.kind, "metadata": {**metadata, "resourceVersion": "1"}, **fields}


def test_the_registry_store_watches_each_served_namespace_and_no_other() -> None:
    api = NamespacedApi(
        obj(REGISTERED_MODEL, "team-a", "iris", spec={}),
        obj(REGISTERED_MODEL, "team-b", "wine", spec={}),
    )
    store = KubeRegistryStore(api, SERVED)  # type: ignore[arg-type]
    scopes = [(i.kind.plural, i.namespace) for i in store.informers]
    assert sorted(scopes) == sorted(
        (kind.plural, ns)
        for kind in (REGISTERED_MODEL, MODEL_VERSION, MODEL_DEPLOYMENT)
        for ns in SERVED
    )
    store.start(timeout=10)
    try:
        assert sorted(api.listed) == sorted(scopes)
        assert [r.resource.metadata.name for r in store.cache.models("team-a")] == ["iris"]
        assert [r.resource.metadata.name for r in store.cache.models("team-b")] == ["wine"]
    finally:
        store.close()


def test_the_tracking_store_watches_each_served_namespace_and_no_other() -> None:
    api = NamespacedApi(
        obj(EXPERIMENT, "team-a", "churn", spec={}, status={"experimentId": "4"}),
        obj(EXPERIMENT, "team-b", "churn", spec={}, status={"experimentId": "9"}),
    )
    store = KubeStore(api, MemoryObjects(), "mlkube-system", SERVED)  # type: ignore[arg-type]
    store.start(timeout=10)
    try:
        assert sorted(api.listed) == sorted(
            (kind.plural, ns) for kind in (EXPERIMENT, RUN) for ns in SERVED
        )
        found = store.cache.list_experiments("team-b", ViewType.ALL)
        assert [e.experiment_id for e in found] == ["9"]
        # Ids are allocated above every id the server has seen (kube/ids.py's floor).
        assert store.cache.max_experiment_id == 9
    finally:
        store.close()


# -- requests for other workspaces are refused --------------------------------------------------


class EveryRightApi:
    """TokenReview accepts TOKEN; every SubjectAccessReview allows: only the served namespaces
    keep a request out of the others. Listing namespaces is forbidden, as the chart's RBAC makes
    it with operator.watchNamespaces."""

    def __init__(self) -> None:
        self.access_reviews: list[str] = []

    def review_token(self, token: str, audiences: list[str] | None) -> dict[str, Any]:
        if token != TOKEN:
            return {"authenticated": False, "error": "unknown token"}
        return {"authenticated": True, "user": {"username": "alice"}}

    def review_access(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.access_reviews.append(spec["resourceAttributes"]["namespace"])
        return {"allowed": True}

    def list_namespaces(self) -> list[dict[str, Any]]:
        raise AssertionError("the server may not list namespaces when it serves given ones")


@pytest.fixture
def api() -> EveryRightApi:
    return EveryRightApi()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def client(api: EveryRightApi, store: InMemoryStore) -> Iterator[TestClient]:
    door = KubernetesGuard(api, ["mlkube"], namespaces=SERVED)  # type: ignore[arg-type]
    services = Services(store, MemoryObjects(), "team-a", "0.1.0", door, served=Served(SERVED))
    with TestClient(build_app(services, InMemoryRegistryStore())) as test_client:
        yield test_client


def headers(workspace: str, token: str | None = TOKEN) -> dict[str, str]:
    found = {"X-MLFLOW-WORKSPACE": workspace}
    return {**found, "Authorization": f"Bearer {token}"} if token else found


def assert_refused(response: Any, workspace: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    for said in (f"workspace '{workspace}'", "team-a, team-b", "operator.watchNamespaces"):
        assert said in body["message"]


def test_a_workspace_outside_the_served_namespaces_is_refused_before_the_store(
    client: TestClient, api: EveryRightApi, store: InMemoryStore
) -> None:
    create = "/api/2.0/mlflow/experiments/create"
    refused = client.post(create, json={"name": "x"}, headers=headers("team-c"))
    assert_refused(refused, "team-c")
    assert "x" not in [e.name for e in store.list_experiments("team-c", ViewType.ALL)]
    assert "team-c" not in api.access_reviews  # no question about a namespace not served
    served = client.post(create, json={"name": "x"}, headers=headers("team-b"))
    assert served.status_code == 200, served.text
    assert "x" in [e.name for e in store.list_experiments("team-b", ViewType.ALL)]


def test_strangers_learn_no_served_namespace(client: TestClient) -> None:
    search = "/api/2.0/mlflow/experiments/search"
    assert client.post(search, json={}, headers=headers("team-c", token=None)).status_code == 401
    assert client.post(search, json={}, headers=headers("team-c", token="bad")).status_code == 401


def test_artifacts_registry_and_workspace_endpoints_refuse_it_too(client: TestClient) -> None:
    artifact = "/api/2.0/mlflow-artifacts/artifacts/projects/" + "c" * 64 + ".tar.gz"
    assert_refused(client.put(artifact, content=b"x", headers=headers("team-c")), "team-c")
    assert_refused(
        client.get("/api/2.0/mlflow-artifacts/artifacts", headers=headers("team-c")), "team-c"
    )
    model = "/api/2.0/mlflow/registered-models/create"
    assert_refused(client.post(model, json={"name": "m"}, headers=headers("team-c")), "team-c")
    assert_refused(client.get("/api/3.0/mlflow/workspaces/team-c", headers=headers("x")), "team-c")
    assert client.get("/api/3.0/mlflow/workspaces/team-a", headers=headers("x")).status_code == 200


def test_requests_without_a_workspace_go_to_the_default_one(
    client: TestClient, store: InMemoryStore
) -> None:
    create = "/api/2.0/mlflow/experiments/create"
    no_header = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(create, json={"name": "y"}, headers=no_header).status_code == 200
    assert "y" in [e.name for e in store.list_experiments("team-a", ViewType.ALL)]


def test_the_workspace_list_is_the_served_namespaces_without_listing_any(
    client: TestClient,
) -> None:
    listed = client.get("/api/3.0/mlflow/workspaces", headers=headers("team-a"))
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"workspaces": [{"name": "team-a"}, {"name": "team-b"}]}
