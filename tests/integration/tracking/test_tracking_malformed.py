"""Malformed requests get MLflow's error shape and a 4xx status, never a 500: from mlkube and,
for the same requests, from MLflow's own server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from e2e.cluster.identities import auth_headers
from tests.integration.tracking.conftest import TrackingServer

API = "/api/2.0/mlflow"
RUN = "<run>"
EXPERIMENT = "<experiment>"
BULK = "/metrics/get-history-bulk-interval"

CASES: list[tuple[str, str, Any]] = [
    ("POST", "/experiments/create", {}),
    ("POST", "/experiments/create", {"name": ""}),
    ("POST", "/experiments/create", {"name": 5}),
    ("POST", "/experiments/create", b"{not json"),
    ("POST", "/experiments/create", {"name": "t", "tags": "nope"}),
    ("GET", "/experiments/get", {}),
    ("GET", "/experiments/get", {"experiment_id": "424242"}),
    ("GET", "/experiments/get-by-name", {"experiment_name": "no-such-experiment-xyz"}),
    ("POST", "/experiments/search", {"max_results": 0}),
    ("POST", "/experiments/search", {"max_results": "many"}),
    ("POST", "/experiments/search", {"filter": "name = "}),
    ("POST", "/experiments/delete", {"experiment_id": "424242"}),
    ("POST", "/experiments/update", {"experiment_id": EXPERIMENT}),
    ("POST", "/experiments/set-experiment-tag", {"experiment_id": EXPERIMENT, "value": "v"}),
    ("POST", "/runs/create", {"experiment_id": "424242"}),
    ("POST", "/runs/create", {"experiment_id": EXPERIMENT, "start_time": "soon"}),
    ("GET", "/runs/get", {}),
    ("GET", "/runs/get", {"run_id": "f" * 32}),
    ("POST", "/runs/log-metric", {"run_id": RUN, "key": "m", "value": "high", "timestamp": 1}),
    ("POST", "/runs/log-metric", {"run_id": RUN, "key": "m", "value": 1}),
    ("POST", "/runs/log-metric", {"run_id": "f" * 32, "key": "m", "value": 1, "timestamp": 1}),
    ("POST", "/runs/log-parameter", {"run_id": RUN, "key": "k" * 251, "value": "x"}),
    ("POST", "/runs/log-parameter", {"run_id": RUN, "key": "fixed", "value": "2"}),
    ("POST", "/runs/delete-tag", {"run_id": RUN, "key": "absent"}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "metrics": "x"}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "params": [{"key": "a", "value": "b"}] * 101}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "tags": [{"key": "a", "value": "b"}] * 101}),
    ("POST", "/runs/search", {"experiment_ids": [EXPERIMENT], "filter": "metrics.m > 'a'"}),
    ("POST", "/runs/search", {"experiment_ids": [EXPERIMENT], "filter": "params.a > 1"}),
    ("POST", "/runs/search", {"experiment_ids": [EXPERIMENT], "filter": "a = 1 OR b = 2"}),
    ("POST", "/runs/search", {"experiment_ids": [EXPERIMENT], "filter": "foo.bar = 'x'"}),
    ("POST", "/runs/search", {"experiment_ids": [EXPERIMENT], "filter": "attributes.no = 'x'"}),
    ("POST", "/runs/search", {"experiment_ids": [EXPERIMENT], "max_results": 50001}),
    ("GET", "/metrics/get-history", {"run_id": RUN}),
    ("GET", BULK, {"metric_key": "m"}),
    ("GET", BULK, {"run_ids": [RUN]}),
    ("GET", BULK, {"run_ids": [RUN] * 101, "metric_key": "m"}),
    ("GET", BULK, {"run_ids": RUN, "metric_key": "m", "max_results": 0}),
    ("GET", BULK, {"run_ids": RUN, "metric_key": "m", "start_step": 1}),
    ("GET", BULK, {"run_ids": RUN, "metric_key": "m", "start_step": 5, "end_step": 2}),
    ("GET", "/logged-models/m-00000000000000000000000000000000", {}),
    ("GET", "/no/such/endpoint", {}),
]


def request(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    if method == "GET":
        return client.request(method, API + path, params=body)
    if isinstance(body, bytes):
        return client.request(method, API + path, content=body)
    return client.request(method, API + path, json=body)


def substitute(value: Any, run_id: str, experiment_id: str) -> Any:
    if value == RUN:
        return run_id
    if value == EXPERIMENT:
        return experiment_id
    if isinstance(value, list):
        return [substitute(v, run_id, experiment_id) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, run_id, experiment_id) for k, v in value.items()}
    return value


@pytest.mark.parametrize("server", ["mlkube", "mlflow"], indirect=True)
def test_malformed_requests_get_4xx_with_mlflow_errors(server: TrackingServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30, headers=auth_headers()) as client:
        created = client.post(f"{API}/experiments/create", json={"name": f"bad-{id(client)}"})
        experiment_id = created.json()["experiment_id"]
        run = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id})
        run_id = run.json()["run"]["info"]["run_id"]
        fixed = {"run_id": run_id, "key": "fixed", "value": "1"}
        assert client.post(f"{API}/runs/log-parameter", json=fixed).status_code == 200
        failures = []
        for method, path, body in CASES:
            response = request(client, method, path, substitute(body, run_id, experiment_id))
            where = f"{method} {path} {str(body)[:60]}"
            if not 400 <= response.status_code < 500:
                failures.append(f"{where}: {response.status_code} {response.text[:200]}")
                continue
            if path.startswith("/no/such"):
                continue  # MLflow's router answers an unknown path with its own 404 page
            error = response.json()
            if not (error.get("error_code") and error.get("message")):
                failures.append(f"{where}: not an MLflow error: {response.text[:200]}")
        assert not failures, "\n".join(failures)
