"""The same registry requests against MLflow's own server (SQLite) and mlkube's (the cluster, no
operator): the same status codes and error codes, and the same fields in the answers.

Where mlkube deliberately differs it is said here: a new version is PENDING_REGISTRATION until
the operator has copied it (MLflow's is READY at once), and a download URI then names the
registry copy; answers may also carry empty lists that MLflow leaves out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.cluster.cluster import LocalCluster
from e2e.cluster.identities import auth_headers
from tests.integration.tracking.conftest import start_mlflow, start_mlkube, stop, wait_healthy

API = "/api/2.0/mlflow"
# Fields compared in successful answers (status and times legitimately differ).
COMPARED = ("name", "version", "current_stage", "description", "source", "run_id", "aliases")


class Server:
    def __init__(self, url: str, workspace: str | None) -> None:
        self.url = url
        self.headers = {"X-MLFLOW-WORKSPACE": workspace} if workspace else {}
        self.headers.update(auth_headers())
        self.run_id = ""

    def send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        filled = {k: (self.run_id if v == "<run>" else v) for k, v in body.items()}
        if isinstance(filled.get("source"), str):
            filled["source"] = filled["source"].replace("<run>", self.run_id)
        if method == "GET":
            return httpx.get(self.url + API + path, params=filled, headers=self.headers, timeout=30)
        return httpx.request(
            method, self.url + API + path, json=filled, headers=self.headers, timeout=30
        )


@pytest.fixture(scope="module")
def servers(
    cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    workspace = f"reg-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", workspace)
    state: Path = tmp_path_factory.mktemp("registry-reference")
    mlflow_process, mlflow_url = start_mlflow(state, state / "mlflow.log")
    mlkube_process, mlkube_url = start_mlkube(cluster, workspace, state / "mlkube.log")
    try:
        wait_healthy(mlflow_url, mlflow_process, state / "mlflow.log")
        wait_healthy(mlkube_url, mlkube_process, state / "mlkube.log")
        pair = (Server(mlflow_url, None), Server(mlkube_url, workspace))
        for server in pair:
            experiment = server.send("POST", "/experiments/create", {"name": "reference"})
            run = server.send(
                "POST", "/runs/create", {"experiment_id": experiment.json()["experiment_id"]}
            )
            server.run_id = run.json()["run"]["info"]["run_id"]
        yield pair
    finally:
        stop(mlkube_process)
        stop(mlflow_process)
        cluster.kubectl("delete", "namespace", workspace, "--wait=false", check=False)


# (method, path, body): run in order against both servers.
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/registered-models/create", {"name": "ref", "description": "d"}),
    ("POST", "/registered-models/create", {"name": "ref"}),
    ("POST", "/registered-models/create", {"name": "a/b"}),
    ("POST", "/registered-models/create", {}),
    ("GET", "/registered-models/get", {"name": "ref"}),
    ("GET", "/registered-models/get", {"name": "absent"}),
    (
        "POST",
        "/model-versions/create",
        {"name": "ref", "source": "runs:/<run>/model", "run_id": "<run>"},
    ),
    (
        "POST",
        "/model-versions/create",
        {"name": "ref", "source": "runs:/<run>/model", "run_id": "<run>"},
    ),
    (
        "POST",
        "/model-versions/create",
        {"name": "absent", "source": "runs:/<run>/m", "run_id": "<run>"},
    ),
    ("POST", "/model-versions/create", {"name": "ref", "source": "file:///etc/passwd"}),
    ("GET", "/model-versions/get", {"name": "ref", "version": "1"}),
    ("GET", "/model-versions/get", {"name": "ref", "version": "x"}),
    ("GET", "/model-versions/get", {"name": "ref", "version": "0"}),
    ("GET", "/model-versions/get", {"name": "ref", "version": "9"}),
    ("PATCH", "/model-versions/update", {"name": "ref", "version": "1", "description": "v1"}),
    ("PATCH", "/registered-models/update", {"name": "ref", "description": "d2"}),
    ("POST", "/registered-models/set-tag", {"name": "ref", "key": "team", "value": "risk"}),
    ("DELETE", "/registered-models/delete-tag", {"name": "ref", "key": "never-set"}),
    ("POST", "/model-versions/set-tag", {"name": "ref", "version": "2", "key": "q", "value": "ok"}),
    ("DELETE", "/model-versions/delete-tag", {"name": "ref", "version": "2", "key": "absent"}),
    ("POST", "/registered-models/alias", {"name": "ref", "alias": "champion", "version": "1"}),
    ("POST", "/registered-models/alias", {"name": "ref", "alias": "latest", "version": "1"}),
    ("POST", "/registered-models/alias", {"name": "ref", "alias": "v3", "version": "1"}),
    ("POST", "/registered-models/alias", {"name": "ref", "alias": "x", "version": "9"}),
    ("GET", "/registered-models/alias", {"name": "ref", "alias": "champion"}),
    ("GET", "/registered-models/alias", {"name": "ref", "alias": "missing"}),
    (
        "POST",
        "/model-versions/transition-stage",
        {"name": "ref", "version": "1", "stage": "Staging"},
    ),
    ("POST", "/model-versions/transition-stage", {"name": "ref", "version": "1", "stage": "Live"}),
    ("POST", "/registered-models/get-latest-versions", {"name": "ref", "stages": ["Staging"]}),
    ("POST", "/registered-models/get-latest-versions", {"name": "ref", "stages": ["live"]}),
    ("GET", "/registered-models/search", {"filter": "name = 'ref'"}),
    ("GET", "/registered-models/search", {"filter": "tags.team = 'risk'"}),
    ("GET", "/registered-models/search", {"filter": "name = 'a' OR name = 'b'"}),
    ("GET", "/registered-models/search", {"page_token": "zzz"}),
    ("GET", "/registered-models/search", {"max_results": "1001"}),
    ("GET", "/model-versions/search", {"filter": "name = 'ref' AND version_number > 1"}),
    (
        "GET",
        "/model-versions/search",
        {"filter": "run_id = '<run>'", "order_by": ["version_number"]},
    ),
    ("GET", "/model-versions/search", {"filter": "tags.q = 'ok'"}),
    ("GET", "/model-versions/search", {"filter": "creation_timestamp > 1"}),
    ("POST", "/registered-models/create", {"name": "other"}),
    ("POST", "/registered-models/rename", {"name": "ref", "new_name": "other"}),
    ("POST", "/registered-models/rename", {"name": "ref", "new_name": "renamed"}),
    ("GET", "/registered-models/alias", {"name": "renamed", "alias": "champion"}),
    ("DELETE", "/model-versions/delete", {"name": "renamed", "version": "1"}),
    ("GET", "/model-versions/get", {"name": "renamed", "version": "1"}),
    ("GET", "/registered-models/get", {"name": "renamed"}),
    ("DELETE", "/registered-models/delete", {"name": "renamed"}),
    ("GET", "/registered-models/get", {"name": "renamed"}),
    ("GET", "/model-versions/search", {"filter": "name = 'renamed'"}),
]


def projected(value: Any) -> Any:
    """The compared fields of every model and version in an answer; empty values dropped (MLflow
    leaves out empty lists that mlkube sends)."""
    if isinstance(value, list):
        items = [projected(v) for v in value]
        if all(isinstance(v, dict) and "current_stage" in v for v in value):
            # latest_versions comes in no particular order from MLflow's SQL store.
            return sorted(items, key=lambda v: (v["name"], int(v["version"])))
        return items
    if not isinstance(value, dict):
        return value
    if "version" in value and "current_stage" in value:
        return {k: value.get(k) or None for k in COMPARED}
    return {
        k: projected(v)
        for k, v in value.items()
        if v not in ([], "", None) and k not in ("creation_timestamp", "last_updated_timestamp")
    }


def normalized(server: Server, answer: Any) -> Any:
    """The answer with the server's own run id replaced by a placeholder."""
    return json.loads(json.dumps(answer).replace(server.run_id, "<run>"))


def test_mlkube_answers_as_mlflow_does(servers: tuple[Server, Server]) -> None:
    mlflow_server, mlkube_server = servers
    for method, path, body in STEPS:
        expected = mlflow_server.send(method, path, body)
        got = mlkube_server.send(method, path, body)
        where = f"{method} {path} {body}"
        assert got.status_code == expected.status_code, (where, expected.text, got.text)
        if expected.status_code != 200:
            assert got.json()["error_code"] == expected.json()["error_code"], where
            continue
        want = projected(normalized(mlflow_server, expected.json()))
        assert projected(normalized(mlkube_server, got.json())) == want, where
