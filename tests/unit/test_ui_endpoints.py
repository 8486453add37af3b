"""The endpoint names the UI tests compare between servers (e2e/ui/network.py): ids and
artifact paths made generic, GraphQL named by its operation."""

from __future__ import annotations

import pytest
from e2e.ui.allowlist import CONSOLE, ENDPOINTS
from e2e.ui.network import Call, Network, endpoint

RUN = "0fa6a2b48649b2c9942ac9f22df954d2"
MODEL = "m-4d5a63d1968010dfa793d4c6751e5310"


@pytest.mark.parametrize(
    ("method", "url", "body", "name"),
    [
        (
            "GET",
            f"http://h:1/ajax-api/2.0/mlflow/runs/get?run_id={RUN}",
            None,
            "GET /ajax-api/2.0/mlflow/runs/get",
        ),
        (
            "GET",
            f"http://h:1/ajax-api/2.0/mlflow/logged-models/{MODEL}/artifacts/files?x=1",
            None,
            "GET /ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
        ),
        (
            "GET",
            f"http://h:1/ajax-api/2.0/mlflow-artifacts/artifacts/1/{RUN}/artifacts/a/b.txt",
            None,
            "GET /ajax-api/2.0/mlflow-artifacts/artifacts/{path}",
        ),
        (
            "POST",
            "http://h:1/graphql",
            '{"operationName": "GetRun", "variables": {}}',
            "POST /graphql GetRun",
        ),
        ("POST", "http://h:1/graphql", "not json", "POST /graphql None"),
    ],
)
def test_an_endpoint_is_its_method_and_generic_path(
    method: str, url: str, body: str | None, name: str
) -> None:
    assert endpoint(method, url, body) == name


def test_every_allowlist_entry_says_why() -> None:
    for reason in [*ENDPOINTS.values(), *CONSOLE.values()]:
        assert len(reason.split()) >= 5


def test_the_bundles_files_are_requests_but_not_endpoints() -> None:
    network = Network("http://h:1")
    network.calls += [
        Call(
            "p",
            "GET /static-files/static/js/main.js",
            "http://h:1/static-files/static/js/main.js",
            200,
        ),
        Call("p", "GET /", "http://h:1/", 200),
        Call(
            "p",
            "GET /ajax-api/3.0/mlflow/server-info",
            "http://h:1/ajax-api/3.0/mlflow/server-info",
            200,
        ),
        Call("p", "GET /static-files/missing.js", "http://h:1/static-files/missing.js", 404),
    ]
    assert network.succeeded() == {"GET /ajax-api/3.0/mlflow/server-info"}
    assert [call.failed for call in network.calls] == [False, False, False, True]
