"""Run tags under mlkube.kubernetes.* are facts the server derives from the Run object: clients
cannot set or delete them (a set value would be hidden, a deleted one would come back)."""

from typing import Any

import pytest
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
KEY = "mlkube.kubernetes.phase"


def _run(client: TestClient) -> str:
    reply = client.post(f"{API}/runs/create", json={"experiment_id": "0"})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["run"]["info"]["run_id"])


def _refused(reply: Any) -> None:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert KEY in body["message"]
    assert "reserved" in body["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("runs/set-tag", {"key": KEY, "value": "Succeeded"}),
        ("runs/delete-tag", {"key": KEY}),
        ("runs/log-batch", {"tags": [{"key": KEY, "value": "Succeeded"}]}),
    ],
)
def test_writes_to_reserved_run_tags_are_refused(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    run_id = _run(client)
    _refused(client.post(f"{API}/{path}", json={"run_id": run_id, **body}))
    tags = client.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert KEY not in {t["key"] for t in tags.get("tags", [])}


def test_create_with_a_reserved_tag_is_refused_and_makes_no_run(client: TestClient) -> None:
    _refused(
        client.post(
            f"{API}/runs/create",
            json={"experiment_id": "0", "tags": [{"key": KEY, "value": "x"}]},
        )
    )
    found = client.post(f"{API}/runs/search", json={"experiment_ids": ["0"]}).json()
    assert found.get("runs", []) == []


def test_other_mlkube_tags_stay_writable(client: TestClient) -> None:
    run_id = _run(client)
    reply = client.post(
        f"{API}/runs/set-tag", json={"run_id": run_id, "key": "mlkube.note", "value": "ok"}
    )
    assert reply.status_code == 200, reply.text
