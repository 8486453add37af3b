"""registered-models/search and model-versions/search: MLflow's filter grammar, order_by,
max_results and page tokens, over the in-memory stores."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from tests.unit.registry.rest import call, error, new_model, new_run


def model_names(client: TestClient, **query: object) -> list[str]:
    found = call(client, "GET", "/registered-models/search", query)
    return [m["name"] for m in found["registered_models"]]


def versions(client: TestClient, **query: object) -> list[tuple[str, str]]:
    found = call(client, "GET", "/model-versions/search", query)
    return [(v["name"], v["version"]) for v in found["model_versions"]]


@pytest.fixture
def catalog(client: TestClient) -> TestClient:
    for name, team in [("alpha", "risk"), ("Beta", "growth"), ("gamma", "risk")]:
        new_model(client, name, versions=2)
        call(
            client,
            "POST",
            "/registered-models/set-tag",
            {"name": name, "key": "team", "value": team},
        )
    tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
    call(client, "POST", "/registered-models/create", {"name": "a-prompt", "tags": tags})
    return client


def test_models_by_name_and_tag(catalog: TestClient) -> None:
    assert model_names(catalog) == ["Beta", "alpha", "gamma"]
    assert model_names(catalog, filter="name = 'alpha'") == ["alpha"]
    assert model_names(catalog, filter="name LIKE '%a'") == ["Beta", "alpha", "gamma"]
    assert model_names(catalog, filter="name ILIKE 'b%'") == ["Beta"]
    assert model_names(catalog, filter="name LIKE 'b%'") == []
    assert model_names(catalog, filter="name != 'alpha'") == ["Beta", "gamma"]
    assert model_names(catalog, filter="name IN ('alpha', 'gamma')") == ["alpha", "gamma"]
    assert model_names(catalog, filter="tags.team = 'risk'") == ["alpha", "gamma"]
    assert model_names(catalog, filter="tag.`team` = 'risk' AND name LIKE 'g%'") == ["gamma"]
    assert model_names(catalog, filter="tags.team ILIKE 'GROW%'") == ["Beta"]


def test_prompts_only_when_asked_for(catalog: TestClient) -> None:
    assert "a-prompt" not in model_names(catalog)
    assert model_names(catalog, filter="tags.`mlflow.prompt.is_prompt` = 'true'") == ["a-prompt"]
    assert "a-prompt" not in model_names(catalog, filter="tags.`mlflow.prompt.is_prompt` != 'true'")


def test_models_order_and_pages(catalog: TestClient) -> None:
    assert model_names(catalog, order_by=["name DESC"]) == ["gamma", "alpha", "Beta"]
    call(catalog, "PATCH", "/registered-models/update", {"name": "alpha", "description": "new"})
    newest = model_names(catalog, order_by=["last_updated_timestamp DESC"])
    assert newest[0] == "alpha"
    assert model_names(catalog, order_by=["timestamp DESC"])[0] == "alpha"
    first = call(catalog, "GET", "/registered-models/search", {"max_results": 2})
    assert [m["name"] for m in first["registered_models"]] == ["Beta", "alpha"]
    query = {"max_results": 2, "page_token": first["next_page_token"]}
    second = call(catalog, "GET", "/registered-models/search", query)
    assert [m["name"] for m in second["registered_models"]] == ["gamma"]
    assert "next_page_token" not in second


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "name = 'a' OR name = 'b'"},
        {"filter": "metrics.loss > 1"},
        {"filter": "params.alpha = '1'"},
        {"filter": "creation_timestamp > 5"},
        {"filter": "tags.team IS NULL"},
        {"filter": "name = "},
        {"filter": "name = 'unterminated"},
        {"filter": "name ~ 'x'"},
        {"order_by": ["version_number"]},
        {"order_by": ["name SIDEWAYS"]},
        {"order_by": ["name", "name DESC"]},
        {"order_by": ["tags.team"]},
        {"max_results": 1001},
        {"max_results": 0},
        {"max_results": "ten"},
        {"page_token": "not-a-token"},
    ],
)
def test_bad_model_searches_are_400(catalog: TestClient, query: dict[str, object]) -> None:
    assert error(catalog, "GET", "/registered-models/search", query) == "INVALID_PARAMETER_VALUE"


def test_versions_by_attribute_and_tag(catalog: TestClient) -> None:
    _, run_id = new_run(catalog)
    body = {"name": "gamma", "source": f"runs:/{run_id}/other", "run_id": run_id}
    call(catalog, "POST", "/model-versions/create", body)
    body = {"name": "gamma", "version": "1", "key": "quality", "value": "good"}
    call(catalog, "POST", "/model-versions/set-tag", body)
    assert versions(catalog, filter="name = 'gamma'", order_by=["version_number"]) == [
        ("gamma", "1"),
        ("gamma", "2"),
        ("gamma", "3"),
    ]
    assert versions(catalog, filter="name = 'gamma' AND version_number > 1") == [
        ("gamma", "3"),
        ("gamma", "2"),
    ]
    assert versions(catalog, filter=f"run_id = '{run_id}'") == [("gamma", "3")]
    assert versions(catalog, filter=f"run_id IN ('{run_id}', 'x')") == [("gamma", "3")]
    assert versions(catalog, filter="source_path LIKE '%/other'") == [("gamma", "3")]
    assert versions(catalog, filter="tags.quality = 'good'") == [("gamma", "1")]
    assert versions(
        catalog, filter="name IN ('alpha', 'Beta')", order_by=["name", "version_number"]
    ) == [
        ("Beta", "1"),
        ("Beta", "2"),
        ("alpha", "1"),
        ("alpha", "2"),
    ]
    assert versions(catalog, filter="version_number = '2' AND name = 'alpha'") == [("alpha", "2")]


def test_versions_default_order_is_most_recently_changed_first(catalog: TestClient) -> None:
    body = {"name": "alpha", "version": "1", "description": "touched"}
    call(catalog, "PATCH", "/model-versions/update", body)
    assert versions(catalog)[0] == ("alpha", "1")
    first = call(catalog, "GET", "/model-versions/search", {"max_results": 4})
    assert len(first["model_versions"]) == 4
    rest = call(catalog, "GET", "/model-versions/search", {"page_token": first["next_page_token"]})
    assert len(rest["model_versions"]) == 2
    assert "next_page_token" not in rest


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "name = 'a' OR version_number = 1"},
        {"filter": "metrics.loss > 1"},
        {"filter": "creation_timestamp > 1"},
        {"filter": "current_stage = 'Production'"},
        {"filter": "version_number LIKE '1%'"},
        {"filter": "source_path IN ('a')"},
        {"filter": "tags.quality IS NOT NULL"},
        {"order_by": ["run_id"]},
        {"order_by": ["version_number DESC", "version_number"]},
        {"max_results": 200_001},
        {"max_results": -5},
    ],
)
def test_bad_version_searches_are_400(catalog: TestClient, query: dict[str, object]) -> None:
    assert error(catalog, "GET", "/model-versions/search", query) == "INVALID_PARAMETER_VALUE"
