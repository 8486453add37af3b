"""Malformed registry requests get MLflow-style 4xx answers, never a 500."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.unit.registry.rest import API, new_model

from mlkube_operator.server.http.registry_routes import REGISTRY_API

JUNK: list[Any] = [None, "", "x", -3, 1.5, True, ["a", "b"], {"key": "k"}, "../\x00" + "9" * 40]
FIELDS = [
    "name",
    "new_name",
    "version",
    "source",
    "run_id",
    "model_id",
    "alias",
    "stage",
    "key",
    "value",
    "tags",
    "stages",
    "filter",
    "order_by",
    "max_results",
    "page_token",
    "description",
    "archive_existing_versions",
]


def send(client: TestClient, method: str, path: str, body: Any) -> Any:
    if method == "GET":
        params = {k: v for k, v in body.items() if isinstance(v, str | int | list)}
        return client.get(API + path, params=params)
    return client.request(method, API + path, json=body)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in REGISTRY_API])
def test_junk_in_every_field_is_a_4xx_in_mlflows_shape(
    client: TestClient, method: str, path: str
) -> None:
    new_model(client, "target", versions=1)
    base = {"name": "target", "version": "1", "alias": "champion", "key": "k", "stage": "Staging"}
    for field, junk in itertools.product(FIELDS, JUNK):
        response = send(client, method, path, {**base, field: junk})
        assert response.status_code < 500, (field, junk, response.text)
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error_code", "message"}, body


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, _ in REGISTRY_API if m != "GET"])
def test_bodies_that_are_not_json_objects_are_400(
    client: TestClient, method: str, path: str
) -> None:
    for content in (b"{", b"[1, 2]", b'"text"', b"\xff\xfe"):
        response = client.request(
            method, API + path, content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (content, response.text)
        assert response.json()["error_code"] == "BAD_REQUEST"


def test_wrong_method_is_not_a_500(client: TestClient) -> None:
    response = client.put(API + "/registered-models/create", json={"name": "x"})
    assert 400 <= response.status_code < 500
