"""The OpenAPI document of the tracking API (issue 17): built from the route tables, so it
names every endpoint the server has and no other, with the fields each reads; served without a
token; valid for the fuzzer that reads it (schemathesis)."""

from __future__ import annotations

import schemathesis
from starlette.testclient import TestClient

from mlkube_operator.server.http import openapi
from mlkube_operator.server.http.registry_routes import REGISTRY_API
from mlkube_operator.server.http.request_fields import REGISTRY, TRACKING
from mlkube_operator.server.http.tracking_routes import API


def test_every_route_is_described_with_its_need_and_nothing_else() -> None:
    document = openapi.document("0.1.0")
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if path.startswith(openapi.ROOT + "/")
    }
    routes = {(m, openapi.ROOT + p) for m, p, _, _ in API}
    routes |= {(m, openapi.ROOT + p) for m, p, _, _ in REGISTRY_API}
    assert described == routes
    create = document["paths"][f"{openapi.ROOT}/runs/create"]["post"]
    assert create["summary"] == "Needs create runs.mlkube.io in the workspace."
    assert set(create["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {
        "experiment_id", "user_id", "run_name", "start_time", "tags",
    }  # fmt: skip


def test_every_route_has_its_request_fields_and_no_field_table_names_a_route_gone() -> None:
    """A new endpoint needs its line in request_fields.py (what clients and the fuzzer send)."""
    assert set(TRACKING) == {p for _, p, _, _ in API}
    assert set(REGISTRY) == {p for _, p, _, _ in REGISTRY_API}


def test_the_document_is_valid_openapi_for_the_fuzzer() -> None:
    schema = schemathesis.openapi.from_dict(openapi.document("0.1.0"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(API) + len(REGISTRY_API) + 4  # and the artifact proxy's


def test_the_server_serves_it(client: TestClient) -> None:
    response = client.get(openapi.OPENAPI_PATH)
    assert response.status_code == 200
    assert response.json() == openapi.document("0.1.0")
