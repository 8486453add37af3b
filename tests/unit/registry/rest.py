"""Request shortcuts for the registry REST tests (the app itself is conftest.py's ``client``)."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.testclient import TestClient

API = "/api/2.0/mlflow"


def call(client: TestClient, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    """One request as MLflow's client sends it: GET fields in the query, others as JSON."""
    if method == "GET":
        response = client.get(API + path, params=body or {})
    else:
        response = client.request(method, API + path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def error(client: TestClient, method: str, path: str, body: Any, status: int = 400) -> str:
    """The error_code of a request that must fail with ``status``, in MLflow's error shape."""
    answer = call(client, method, path, body, status)
    assert set(answer) == {"error_code", "message"}, answer
    assert answer["message"]
    code: str = answer["error_code"]
    return code


def new_run(client: TestClient) -> tuple[str, str]:
    """A run in a new experiment: (experiment id, run id)."""
    name = f"exp-{uuid.uuid4().hex[:8]}"
    experiment_id = call(client, "POST", "/experiments/create", {"name": name})["experiment_id"]
    run = call(client, "POST", "/runs/create", {"experiment_id": experiment_id, "start_time": 1})
    return experiment_id, run["run"]["info"]["run_id"]


def new_model(client: TestClient, name: str, versions: int = 0) -> str:
    """A registered model with ``versions`` versions, each from a run's model/ directory."""
    call(client, "POST", "/registered-models/create", {"name": name})
    if versions:
        _, run_id = new_run(client)
        for _ in range(versions):
            body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
            call(client, "POST", "/model-versions/create", body)
    return name
