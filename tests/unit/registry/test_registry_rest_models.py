"""registered-models/* over the in-memory stores: MLflow's shapes, codes and validation."""

from __future__ import annotations

from starlette.testclient import TestClient
from tests.unit.registry.rest import API, call, error, new_model


def test_create_answers_the_model_and_refuses_a_duplicate(client: TestClient) -> None:
    body = {
        "name": "Churn Classifier",
        "description": "predicts churn",
        "tags": [{"key": "team", "value": "risk"}],
    }
    model = call(client, "POST", "/registered-models/create", body)["registered_model"]
    assert model["name"] == "Churn Classifier"
    assert model["description"] == "predicts churn"
    assert model["tags"] == [{"key": "team", "value": "risk"}]
    assert model["latest_versions"] == []
    assert model["aliases"] == []
    assert isinstance(model["creation_timestamp"], int)
    assert model["last_updated_timestamp"] == model["creation_timestamp"]
    assert error(client, "POST", "/registered-models/create", body) == "RESOURCE_ALREADY_EXISTS"
    got = call(client, "GET", "/registered-models/get", {"name": "Churn Classifier"})
    assert got["registered_model"]["name"] == "Churn Classifier"


def test_the_ui_prefix_serves_the_registry_too(client: TestClient) -> None:
    new_model(client, "ui")
    response = client.get("/ajax-api/2.0/mlflow/registered-models/get", params={"name": "ui"})
    assert response.status_code == 200
    assert response.json()["registered_model"]["name"] == "ui"


def test_invalid_names_are_400(client: TestClient) -> None:
    for name in ("", "   ", "a/b", "a:b", "x" * 501, "../up", "a/../b"):
        code = error(client, "POST", "/registered-models/create", {"name": name})
        assert code == "INVALID_PARAMETER_VALUE", name
    assert error(client, "POST", "/registered-models/create", {}) == "INVALID_PARAMETER_VALUE"
    assert error(client, "POST", "/registered-models/create", {"name": 7}) == (
        "INVALID_PARAMETER_VALUE"
    )


def test_unknown_model_is_404(client: TestClient) -> None:
    body = {"name": "ghost"}
    assert error(client, "GET", "/registered-models/get", body, 404) == "RESOURCE_DOES_NOT_EXIST"
    for method, path, extra in [
        ("PATCH", "/registered-models/update", {"description": "x"}),
        ("POST", "/registered-models/rename", {"new_name": "other"}),
        ("DELETE", "/registered-models/delete", {}),
        ("POST", "/registered-models/set-tag", {"key": "k", "value": "v"}),
        ("POST", "/registered-models/get-latest-versions", {}),
        ("GET", "/registered-models/alias", {"alias": "champion"}),
    ]:
        assert error(client, method, path, {**body, **extra}, 404) == "RESOURCE_DOES_NOT_EXIST"


def test_update_rename_tags_and_delete(client: TestClient) -> None:
    new_model(client, "before", versions=1)
    updated = call(
        client, "PATCH", "/registered-models/update", {"name": "before", "description": "d"}
    )
    assert updated["registered_model"]["description"] == "d"
    call(client, "POST", "/registered-models/set-tag", {"name": "before", "key": "k", "value": "v"})
    renamed = call(
        client, "POST", "/registered-models/rename", {"name": "before", "new_name": "after"}
    )
    model = renamed["registered_model"]
    assert model["name"] == "after"
    assert model["tags"] == [{"key": "k", "value": "v"}]
    assert [v["name"] for v in model["latest_versions"]] == ["after"]
    # MLflow's clients send DELETE with a JSON body.
    call(client, "DELETE", "/registered-models/delete-tag", {"name": "after", "key": "k"})
    got = call(client, "GET", "/registered-models/get", {"name": "after"})["registered_model"]
    assert got["tags"] == []
    call(client, "DELETE", "/registered-models/delete", {"name": "after"})
    assert error(client, "GET", "/registered-models/get", {"name": "after"}, 404) == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    versions = call(client, "GET", "/model-versions/search", {"filter": "name = 'after'"})
    assert versions["model_versions"] == []


def test_a_bare_delete_reads_the_query_string(client: TestClient) -> None:
    new_model(client, "bare")
    response = client.delete(API + "/registered-models/delete", params={"name": "bare"})
    assert response.status_code == 200, response.text


def test_tag_limits(client: TestClient) -> None:
    new_model(client, "limits")
    body = {"name": "limits", "key": "k", "value": "v" * 100_000}
    call(client, "POST", "/registered-models/set-tag", body)
    body["value"] = "v" * 100_001
    assert error(client, "POST", "/registered-models/set-tag", body) == "INVALID_PARAMETER_VALUE"
    for key in ("", "k" * 251, "../k"):
        body = {"name": "limits", "key": key, "value": "v"}
        assert error(client, "POST", "/registered-models/set-tag", body) == (
            "INVALID_PARAMETER_VALUE"
        ), key
    body = {"name": "limits", "description": "d" * 100_001}
    assert error(client, "PATCH", "/registered-models/update", body) == "INVALID_PARAMETER_VALUE"


def test_aliases_round_trip(client: TestClient) -> None:
    new_model(client, "aliased", versions=2)
    call(
        client,
        "POST",
        "/registered-models/alias",
        {"name": "aliased", "alias": "champion", "version": "2"},
    )
    found = call(
        client, "GET", "/registered-models/alias", {"name": "aliased", "alias": "champion"}
    )
    version = found["model_version"]
    assert (version["version"], version["aliases"]) == ("2", ["champion"])
    model = call(client, "GET", "/registered-models/get", {"name": "aliased"})["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "2"}]
    latest = call(client, "GET", "/registered-models/alias", {"name": "aliased", "alias": "latest"})
    assert latest["model_version"]["version"] == "2"
    call(client, "DELETE", "/registered-models/alias", {"name": "aliased", "alias": "champion"})
    assert (
        error(client, "GET", "/registered-models/alias", {"name": "aliased", "alias": "champion"})
        == "INVALID_PARAMETER_VALUE"
    )


def test_invalid_aliases_are_400(client: TestClient) -> None:
    new_model(client, "bad-aliases", versions=1)
    for alias in ("", "latest", "LATEST", "v1", "V12", "has space", "dot.ted", "a" * 256):
        body = {"name": "bad-aliases", "alias": alias, "version": "1"}
        assert error(client, "POST", "/registered-models/alias", body) == (
            "INVALID_PARAMETER_VALUE"
        ), alias
    body = {"name": "bad-aliases", "alias": "champion", "version": "9"}
    assert error(client, "POST", "/registered-models/alias", body, 404) == "RESOURCE_DOES_NOT_EXIST"
    body = {"name": "bad-aliases", "alias": "champion", "version": "one"}
    assert error(client, "POST", "/registered-models/alias", body) == "INVALID_PARAMETER_VALUE"


def test_latest_versions_by_stage(client: TestClient) -> None:
    new_model(client, "staged", versions=3)
    body = {"name": "staged", "version": "2", "stage": "production"}
    call(client, "POST", "/model-versions/transition-stage", body)
    every = call(client, "POST", "/registered-models/get-latest-versions", {"name": "staged"})
    assert [(v["version"], v["current_stage"]) for v in every["model_versions"]] == [
        ("3", "None"),
        ("2", "Production"),
    ]
    production = call(
        client,
        "GET",
        "/registered-models/get-latest-versions",
        {"name": "staged", "stages": ["Production"]},
    )
    assert [v["version"] for v in production["model_versions"]] == ["2"]
    bad_stage = {"name": "staged", "stages": ["Live"]}
    assert error(client, "POST", "/registered-models/get-latest-versions", bad_stage) == (
        "INVALID_PARAMETER_VALUE"
    )
