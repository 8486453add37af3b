"""A model version's derived tag ``mlkube.deployments`` (issue 14): which ModelDeployments serve
it, in the Kubernetes registry store's answers (fed through its watch cache, no cluster), and
refused to clients that try to set or delete it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from starlette.testclient import TestClient
from tests.unit.registry.rest import call, new_model, new_run

from mlkube.api.errors import parse
from mlkube.api.kinds import MODEL_DEPLOYMENT, MODEL_VERSION, REGISTERED_MODEL
from mlkube.api.model_deployment import ModelDeployment
from mlkube.objects import MemoryObjects
from mlkube_operator.kube import KubeClient
from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.store.registry.kube.serving import serving_tag
from mlkube_operator.server.store.registry.kube.store import KubeRegistryStore
from mlkube_operator.server.store.tracking.memory import InMemoryStore

TAG = "mlkube.deployments"
RUN = "0123456789abcdef0123456789abcdef"


def deployment(
    name: str,
    model: dict[str, Any],
    served: int | None = None,
    *,
    canary: dict[str, Any] | None = None,
    canary_version: int | None = None,
    rv: int = 50,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"model": model}
    if canary is not None:
        spec["canary"] = canary
    status: dict[str, Any] = {"phase": "Ready" if served else "Pending"}
    if served is not None:
        status["servedVersion"] = served
    if canary_version is not None:
        status["canaryVersion"] = canary_version
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "resourceVersion": str(rv),
        },
        "spec": spec,
        "status": status,
    }


def parsed(*objs: dict[str, Any]) -> list[ModelDeployment]:
    return [parse(ModelDeployment, o) for o in objs]


# -- the value ------------------------------------------------------------------------------------


def test_a_stable_deployment_serves_all_the_traffic() -> None:
    api = deployment("churn-api", {"name": "churn", "alias": "champion"}, served=3)
    assert serving_tag(parsed(api), "churn", 3) == "churn-api (stable, 100%, @champion)"
    assert serving_tag(parsed(api), "churn", 2) is None
    assert serving_tag(parsed(api), "other", 3) is None


def test_a_canary_splits_the_traffic_between_two_versions() -> None:
    api = deployment(
        "churn-api",
        {"name": "churn", "version": 3},
        served=3,
        canary={"model": {"name": "churn", "alias": "challenger"}, "trafficPercent": 10},
        canary_version=4,
    )
    batch = deployment("batch", {"name": "churn", "stage": "Production"}, served=3)
    both = parsed(api, batch)
    assert (
        serving_tag(both, "churn", 3)
        == "batch (stable, 100%, stage Production), churn-api (stable, 90%)"
    )
    assert serving_tag(both, "churn", 4) == "churn-api (canary, 10%, @challenger)"


def test_a_deployment_that_serves_nothing_yet_tags_nothing() -> None:
    pending = deployment("new-api", {"name": "churn", "version": 3})
    assert serving_tag(parsed(pending), "churn", 3) is None


def test_a_version_served_by_very_many_deployments_names_some() -> None:
    many = parsed(
        *(deployment(f"api-{i:02d}", {"name": "m", "version": 1}, served=1) for i in range(25))
    )
    value = serving_tag(many, "m", 1)
    assert value is not None
    assert value.endswith("api-19 (stable, 100%), and 5 more")


# -- the store's answers --------------------------------------------------------------------------


def model_obj(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "RegisteredModel",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "1"},
        "spec": spec,
    }


def version_obj(model: str, number: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "ModelVersion",
        "metadata": {
            "name": f"{model}-v{number}",
            "namespace": "ns",
            "uid": f"uid-{model}-{number}",
            "resourceVersion": str(10 + number),
        },
        "spec": {"model": model, "source": f"runs:/{RUN}/model", **spec},
        "status": {"version": number, "phase": "Ready"},
    }


@pytest.fixture
def store() -> KubeRegistryStore:
    """The Kubernetes registry store, its cache fed as its informers would (never started)."""
    registry = KubeRegistryStore(cast(KubeClient, None))
    registry.cache.put(REGISTERED_MODEL, model_obj("churn", aliases={"champion": 1}))
    registry.cache.put(MODEL_VERSION, version_obj("churn", 1))
    registry.cache.put(
        MODEL_VERSION, version_obj("churn", 2, tags={TAG: "set by kubectl", "k": "v"})
    )
    return registry


@pytest.fixture
def rest(store: KubeRegistryStore) -> Iterator[TestClient]:
    services = Services(InMemoryStore(), MemoryObjects(), "ns", "0.1.0", SingleUser(lambda: ["ns"]))
    with TestClient(build_app(services, store), raise_server_exceptions=False) as client:
        yield client


def tags_of(version: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in version.get("tags", [])}


def test_every_answer_that_carries_a_version_carries_its_deployments(
    store: KubeRegistryStore, rest: TestClient
) -> None:
    store.cache.put(
        MODEL_DEPLOYMENT, deployment("churn-api", {"name": "churn", "alias": "champion"}, served=1)
    )
    want = "churn-api (stable, 100%, @champion)"
    got = call(rest, "GET", "/model-versions/get", {"name": "churn", "version": "1"})
    assert tags_of(got["model_version"])[TAG] == want
    found = call(rest, "GET", "/model-versions/search", {"filter": "name='churn'"})
    by_number = {v["version"]: tags_of(v) for v in found["model_versions"]}
    assert by_number["1"][TAG] == want
    assert by_number["2"] == {"k": "v"}  # not served: no tag, and a hand-set one gives way
    latest = call(rest, "POST", "/registered-models/get-latest-versions", {"name": "churn"})
    assert [tags_of(v) for v in latest["model_versions"]] == [{"k": "v"}]  # version 2 is latest
    model = call(rest, "GET", "/registered-models/get", {"name": "churn"})
    assert model["registered_model"]["latest_versions"][0]["version"] == "2"
    alias = call(rest, "GET", "/registered-models/alias", {"name": "churn", "alias": "champion"})
    assert tags_of(alias["model_version"])[TAG] == want
    # A search by the tag finds the served version.
    served = call(
        rest, "GET", "/model-versions/search", {"filter": f"tags.`{TAG}` LIKE 'churn-api%'"}
    )
    assert [v["version"] for v in served["model_versions"]] == ["1"]


def test_the_tag_follows_the_deployments_status(store: KubeRegistryStore) -> None:
    api = deployment("churn-api", {"name": "churn", "version": 1}, served=1)
    store.cache.put(MODEL_DEPLOYMENT, api)
    assert store.get_model_version("ns", "churn", 1).tags[TAG] == "churn-api (stable, 100%)"
    moved = deployment("churn-api", {"name": "churn", "version": 2}, served=2, rv=60)
    store.cache.upsert(MODEL_DEPLOYMENT, moved)
    assert TAG not in store.get_model_version("ns", "churn", 1).tags
    assert store.get_model_version("ns", "churn", 2).tags[TAG] == "churn-api (stable, 100%)"
    store.cache.remove(
        MODEL_DEPLOYMENT, {**moved, "metadata": {**moved["metadata"], "resourceVersion": "61"}}
    )
    assert TAG not in store.get_model_version("ns", "churn", 2).tags


# -- clients cannot write it ----------------------------------------------------------------------


def test_setting_or_deleting_the_tag_is_refused_naming_it(client: TestClient) -> None:
    new_model(client, "iris", versions=1)
    for method, path, body in (
        (
            "POST",
            "/model-versions/set-tag",
            {"name": "iris", "version": "1", "key": TAG, "value": "x"},
        ),
        ("DELETE", "/model-versions/delete-tag", {"name": "iris", "version": "1", "key": TAG}),
    ):
        answer = call(client, method, path, body, 400)
        assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
        assert f"'{TAG}'" in answer["message"]
        assert "ModelDeployment" in answer["message"]
    _, run_id = new_run(client)
    body = {"name": "iris", "source": f"runs:/{run_id}/model", "tags": [{"key": TAG, "value": "x"}]}
    answer = call(client, "POST", "/model-versions/create", body, 400)
    assert (answer["error_code"], f"'{TAG}'" in answer["message"]) == (
        "INVALID_PARAMETER_VALUE",
        True,
    )
    assert [
        v["version"] for v in call(client, "GET", "/model-versions/search", {})["model_versions"]
    ] == ["1"]
    # Other tags and the registered model's own tags are as before.
    call(
        client,
        "POST",
        "/model-versions/set-tag",
        {"name": "iris", "version": "1", "key": "k", "value": "v"},
    )
    call(client, "POST", "/registered-models/set-tag", {"name": "iris", "key": TAG, "value": "x"})
