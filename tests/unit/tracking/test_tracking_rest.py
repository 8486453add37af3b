"""The REST layer over the in-memory store: MLflow's shapes, codes and validation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.testclient import TestClient

from mlkube.objects import MemoryObjects, ObjectStoreError
from mlkube_operator.server.auth.guard import SingleUser
from mlkube_operator.server.http.app import build_app
from mlkube_operator.server.http.call import Services
from mlkube_operator.server.store.tracking.memory import InMemoryStore

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"


def post(client: TestClient, path: str, body: Any, status: int = 200) -> Any:
    response = client.post(API + path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def new_run(client: TestClient, **fields: Any) -> tuple[str, str]:
    experiment_id = post(client, "/experiments/create", {"name": f"e{len(fields)}-{id(fields)}"})[
        "experiment_id"
    ]
    run = post(client, "/runs/create", {"experiment_id": experiment_id, "start_time": 1, **fields})
    return experiment_id, run["run"]["info"]["run_id"]


def test_health_version_and_server_info(client: TestClient) -> None:
    assert client.get("/health").text == "OK"
    assert client.get("/version").text == "0.1.0"
    info = client.get("/api/3.0/mlflow/server-info").json()
    assert info["workspaces_enabled"] is True


def test_run_round_trip_accepts_run_uuid(client: TestClient) -> None:
    _, run_id = new_run(client, run_name="r1", tags=[{"key": "k", "value": "v"}])
    post(
        client, "/runs/log-metric", {"run_uuid": run_id, "key": "m", "value": "NaN", "timestamp": 5}
    )
    post(client, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    got = client.get(API + "/runs/get", params={"run_uuid": run_id}).json()["run"]
    assert got["info"]["run_name"] == "r1"
    assert got["info"]["run_uuid"] == run_id
    assert got["data"]["metrics"] == [{"key": "m", "value": "NaN", "timestamp": 5, "step": 0}]
    assert got["data"]["params"] == [{"key": "p", "value": "1"}]
    assert {"key": "k", "value": "v"} in got["data"]["tags"]


def test_long_param_and_tag_values_are_truncated_as_mlflow_does(client: TestClient) -> None:
    _, run_id = new_run(client)
    post(client, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x" * 7000})
    post(client, "/runs/set-tag", {"run_id": run_id, "key": "t", "value": "y" * 9000})
    data = client.get(API + "/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert data["params"] == [{"key": "p", "value": "x" * 6000}]
    assert {"key": "t", "value": "y" * 8000} in data["tags"]


def test_relogging_a_param_with_another_value_is_400(client: TestClient) -> None:
    _, run_id = new_run(client)
    post(client, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    post(client, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    error = post(client, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"}, 400)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"


def test_search_filters_orders_and_pages(client: TestClient) -> None:
    experiment_id = post(client, "/experiments/create", {"name": "search"})["experiment_id"]
    for i in range(5):
        run = post(client, "/runs/create", {"experiment_id": experiment_id, "start_time": i})
        run_id = run["run"]["info"]["run_id"]
        batch = {
            "run_id": run_id,
            "metrics": [{"key": "loss", "value": i / 10, "timestamp": 1, "step": 0}],
            "params": [{"key": "even", "value": str(i % 2 == 0)}],
        }
        post(client, "/runs/log-batch", batch)
    query = {
        "experiment_ids": [experiment_id],
        "filter": "params.even = 'True' and metrics.loss >= 0.1",
        "order_by": ["metrics.loss DESC"],
        "max_results": 1,
    }
    first = post(client, "/runs/search", query)
    assert [r["data"]["metrics"][0]["value"] for r in first["runs"]] == [0.4]
    second = post(client, "/runs/search", {**query, "page_token": first["next_page_token"]})
    assert [r["data"]["metrics"][0]["value"] for r in second["runs"]] == [0.2]
    assert "next_page_token" not in second


def test_metric_history_pages(client: TestClient) -> None:
    _, run_id = new_run(client)
    metrics = [{"key": "h", "value": i, "timestamp": i, "step": i} for i in range(7)]
    post(client, "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    params = {"run_id": run_id, "metric_key": "h", "max_results": 5}
    first = client.get(API + "/metrics/get-history", params=params).json()
    assert [m["step"] for m in first["metrics"]] == [0, 1, 2, 3, 4]
    params["page_token"] = first["next_page_token"]
    second = client.get(API + "/metrics/get-history", params=params).json()
    assert [m["step"] for m in second["metrics"]] == [5, 6]


def test_artifacts_round_trip_and_listing(client: TestClient) -> None:
    experiment_id, run_id = new_run(client)
    root = f"{experiment_id}/{run_id}/artifacts"
    payload = bytes(range(256)) * 1000
    assert (
        client.put(f"{ARTIFACTS}/artifacts/{root}/d/data.bin", content=payload).status_code == 200
    )
    assert client.put(f"{ARTIFACTS}/artifacts/{root}/top.txt", content=b"hi").status_code == 200
    got = client.get(f"{ARTIFACTS}/artifacts/{root}/d/data.bin")
    assert got.content == payload
    listing = client.get(f"{ARTIFACTS}/artifacts", params={"path": root}).json()["files"]
    assert listing == [
        {"path": "d", "is_dir": True},
        {"path": "top.txt", "is_dir": False, "file_size": 2},
    ]
    by_run = client.get(API + "/artifacts/list", params={"run_id": run_id, "path": "d"}).json()
    assert by_run["files"] == [{"path": "d/data.bin", "is_dir": False, "file_size": len(payload)}]
    assert by_run["root_uri"] == f"mlflow-artifacts:/{root}"
    assert client.delete(f"{ARTIFACTS}/artifacts/{root}/d").status_code == 200
    assert client.get(f"{ARTIFACTS}/artifacts/{root}/d/data.bin").status_code == 404


def test_multipart_upload_through_the_server(client: TestClient) -> None:
    experiment_id, run_id = new_run(client)
    directory = f"{experiment_id}/{run_id}/artifacts/blobs"
    local = "/home/ada/big.bin"  # the client names the directory in the URL, the file here
    create = client.post(
        f"{ARTIFACTS}/mpu/create/{directory}", json={"path": local, "num_parts": 2}
    )
    assert create.status_code == 200, create.text
    body = create.json()
    parts = []
    for credential, data in zip(body["credentials"], (b"a" * 10, b"b" * 5), strict=True):
        url = credential["url"].replace("http://testserver", "")
        put = client.put(url, content=data)
        assert put.status_code == 200, put.text
        parts.append({"part_number": credential["part_number"], "etag": put.headers["ETag"]})
    done = client.post(
        f"{ARTIFACTS}/mpu/complete/{directory}",
        json={"path": local, "upload_id": body["upload_id"], "parts": parts},
    )
    assert done.status_code == 200, done.text
    got = client.get(f"{ARTIFACTS}/artifacts/{directory}/big.bin")
    assert got.content == b"a" * 10 + b"b" * 5


def test_workspace_header_selects_the_namespace(client: TestClient) -> None:
    headers = {"X-MLFLOW-WORKSPACE": "team-b"}
    created = client.post(API + "/experiments/create", json={"name": "w"}, headers=headers)
    experiment_id = created.json()["experiment_id"]
    got = client.get(API + "/experiments/get", params={"experiment_id": experiment_id})
    assert got.status_code == 404
    got = client.get(
        API + "/experiments/get", params={"experiment_id": experiment_id}, headers=headers
    )
    assert got.json()["experiment"]["name"] == "w"
    bad = client.get(
        API + "/experiments/get",
        params={"experiment_id": "0"},
        headers={"X-MLFLOW-WORKSPACE": "Bad_Name"},
    )
    assert bad.status_code == 400


RUN = "RUN_ID"  # replaced by a real run id
MALFORMED: list[tuple[str, str, Any]] = [
    ("POST", "/experiments/create", {}),
    ("POST", "/experiments/create", {"name": ""}),
    ("POST", "/experiments/create", {"name": 5}),
    ("POST", "/experiments/create", {"name": "x" * 501}),
    ("POST", "/experiments/create", "not an object"),
    ("POST", "/experiments/create", b"{not json"),
    ("POST", "/experiments/create", b"[" * 100_000),
    ("POST", "/experiments/create", {"name": "t", "tags": [{"key": "../x", "value": "v"}]}),
    ("POST", "/experiments/create", {"name": "t", "tags": "nope"}),
    ("GET", "/experiments/get", {}),
    ("GET", "/experiments/get", {"experiment_id": "424242"}),
    ("GET", "/experiments/get-by-name", {"experiment_name": "missing"}),
    ("POST", "/experiments/search", {"max_results": 0}),
    ("POST", "/experiments/search", {"max_results": "many"}),
    ("POST", "/experiments/search", {"view_type": "SOME"}),
    ("POST", "/experiments/search", {"filter": "name = "}),
    ("POST", "/experiments/search", {"page_token": "garbage!!"}),
    ("POST", "/experiments/delete", {"experiment_id": "0"}),
    ("POST", "/runs/create", {"experiment_id": "424242"}),
    ("POST", "/runs/create", {"experiment_id": "0", "start_time": "soon"}),
    ("POST", "/runs/create", {"experiment_id": "0", "tags": [{"key": "k"}]}),
    ("GET", "/runs/get", {}),
    ("GET", "/runs/get", {"run_id": "f" * 32}),
    ("POST", "/runs/update", {"run_id": RUN, "status": "DONE"}),
    ("POST", "/runs/log-metric", {"run_id": RUN, "key": "m", "value": "high", "timestamp": 1}),
    ("POST", "/runs/log-metric", {"run_id": RUN, "key": "m", "value": 1}),
    ("POST", "/runs/log-metric", {"run_id": RUN, "key": "/abs", "value": 1, "timestamp": 1}),
    ("POST", "/runs/log-metric", {"run_id": RUN, "key": "m", "value": 1, "timestamp": 2**70}),
    ("POST", "/runs/log-parameter", {"run_id": RUN, "key": "k" * 251, "value": "x"}),
    ("POST", "/runs/delete-tag", {"run_id": RUN, "key": "absent"}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "metrics": [{}] * 1001}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "params": [{"key": "a", "value": "b"}] * 101}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "tags": [{"key": "a", "value": "b"}] * 101}),
    (
        "POST",
        "/runs/log-batch",
        {"run_id": RUN, "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]},
    ),
    ("POST", "/runs/log-batch", {"run_id": RUN, "metrics": "x"}),
    ("POST", "/runs/log-batch", {"run_id": RUN, "metrics": [5]}),
    ("POST", "/runs/log-inputs", {"run_id": RUN, "datasets": [{"dataset": {"name": "d"}}]}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "metrics.loss > 'a'"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "params.a > 1"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "a = 1 OR b = 2"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "foo.bar = 'x'"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "attributes.nope = 'x'"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "params.a IN ('x')"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "filter": "tags.`unterminated = 'x'"}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "order_by": ["metrics.loss SIDEWAYS"]}),
    ("POST", "/runs/search", {"experiment_ids": ["0"], "max_results": 50001}),
    ("GET", "/metrics/get-history", {"run_id": RUN}),
    ("GET", "/metrics/get-history", {"run_id": RUN, "metric_key": "m", "max_results": "-1"}),
    ("GET", "/artifacts/list", {"run_id": RUN, "path": "../../etc"}),
    ("POST", "/logged-models", {}),
    ("GET", "/logged-models/m-0000", {}),
    ("PATCH", "/logged-models/m-00000000000000000000000000000000", {"status": "NOPE"}),
    ("POST", "/logged-models/search", {"experiment_ids": []}),
    ("GET", "/no/such/endpoint", {}),
    ("PUT", "/experiments/create", {}),
]


def test_malformed_requests_get_mlflow_errors_never_500(client: TestClient) -> None:
    _, run_id = new_run(client)
    for method, path, raw in MALFORMED:
        body = (
            {k: (run_id if v == RUN else v) for k, v in raw.items()}
            if isinstance(raw, dict)
            else raw
        )
        if method in ("GET", "DELETE"):
            response = client.request(method, API + path, params=body)
        elif isinstance(body, bytes):
            response = client.request(method, API + path, content=body)
        else:
            response = client.request(method, API + path, json=body)
        where = f"{method} {path} {str(body)[:80]}"
        assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text}"
        error = response.json()
        assert set(error) == {"error_code", "message"}, where
        assert error["message"], where


ARTIFACT_ATTACKS = [
    "../../../etc/passwd",
    "0/../../x",
    "{exp}/{run}/artifacts/../../../other",
    "{exp}/{run}/artifacts/%2e%2e/x",
    "{exp}/{run}/secrets/x",
    "{exp}/" + "a" * 32 + "/artifacts/x",
    "{exp}/models/not-a-model/artifacts/x",
    "abc/{run}/artifacts/x",
    "{exp}/{run}/artifacts/a\\b",
    "{exp}/{run}/artifacts/" + "d/" * 600 + "f",
]


def test_artifact_paths_cannot_escape(client: TestClient) -> None:
    experiment_id, run_id = new_run(client)
    for raw in ARTIFACT_ATTACKS:
        path = raw.format(exp=experiment_id, run=run_id)
        response = client.put(f"{ARTIFACTS}/artifacts/{path}", content=b"x")
        assert 400 <= response.status_code < 500, f"{path}: {response.status_code}"
        assert "error_code" in response.json()


def test_the_ui_prefix_serves_the_same_api(client: TestClient) -> None:
    created = client.post("/ajax-api/2.0/mlflow/experiments/create", json={"name": "ui"})
    experiment_id = created.json()["experiment_id"]
    got = client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": experiment_id})
    assert got.json()["experiment"]["name"] == "ui"
    assert client.get("/ajax-api/3.0/mlflow/server-info").status_code == 200


class BrokenObjects(MemoryObjects):
    def put_stream(self, key: str, chunks: Iterable[bytes], length: int | None) -> int:
        raise ObjectStoreError("connection refused")


def test_a_failing_backend_answers_503_for_a_retry() -> None:
    store = InMemoryStore()
    services = Services(store, BrokenObjects(), "default", "0.1.0", SingleUser(lambda: ["default"]))
    with TestClient(build_app(services), raise_server_exceptions=False) as broken:
        experiment_id = post(broken, "/experiments/create", {"name": "b"})["experiment_id"]
        run = post(broken, "/runs/create", {"experiment_id": experiment_id})["run"]["info"]
        path = f"{experiment_id}/{run['run_id']}/artifacts/f.txt"
        response = broken.put(f"{ARTIFACTS}/artifacts/{path}", content=b"x")
    assert response.status_code == 503
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"


def test_a_lone_surrogate_is_refused_naming_the_field_and_search_still_answers(
    client: TestClient,
) -> None:
    """A lone UTF-16 surrogate is not a character: stored, it made every experiment search of
    its workspace a 500 (issue 13). Pairs (an emoji) are one character and stay welcome."""
    raw = b'{"name": "bad \\ud800 name"}'
    response = client.post(
        API + "/experiments/create", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert response.json()["message"].startswith("name: holds a lone UTF-16 surrogate")
    nested = b'{"experiment_id": "0", "tags": [{"key": "k", "value": "\\udc00"}]}'
    response = client.post(
        API + "/runs/create", content=nested, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("tags[0].value:")
    emoji = b'{"name": "smile \\ud83d\\ude00"}'
    response = client.post(
        API + "/experiments/create", content=emoji, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    found = post(client, "/experiments/search", {"max_results": 10})
    assert "smile \U0001f600" in [e["name"] for e in found["experiments"]]
