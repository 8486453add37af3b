"""Issue 14: the JSON endpoints MLflow's UI calls beyond the REST API the clients use: the runs
table's dataset filter (experiments/search-datasets), the experiment Overview's trace metrics and
the Traces tab's search (mlkube keeps no traces), and UI telemetry.

Every answer is parsed strictly into MLflow's own response message (service_pb2), so a field
MLflow does not have, or of another type, fails here; the values are what MLflow 3.17.2's server
answers for the same data (compared live in
tests/integration/tracking/test_tracking_ui_endpoints.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.json_format import ParseDict
from google.protobuf.message import Message
from mlflow.protos.service_pb2 import QueryTraceMetrics, SearchDatasets, SearchTracesV3
from mlflow.telemetry.constant import FALLBACK_UI_CONFIG
from starlette.testclient import TestClient

API = "/api/2.0/mlflow"
DATASETS = "/ajax-api/2.0/mlflow/experiments/search-datasets"
METRICS = "/ajax-api/3.0/mlflow/traces/metrics"
TRACES = "/ajax-api/3.0/mlflow/traces/search"
TELEMETRY = "/ajax-api/3.0/mlflow/ui-telemetry"


def post(client: TestClient, path: str, body: Any) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def mlflows(message: type[Message], answer: dict[str, Any]) -> dict[str, Any]:
    """``answer``, once MLflow's message of that name has read it without complaint."""
    ParseDict(answer, message())
    return answer


def refused(response: Any, *words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    for word in words:
        assert word in body["message"]


def new_run(client: TestClient, experiment_id: str, start: int) -> str:
    run = post(client, API + "/runs/create", {"experiment_id": experiment_id, "start_time": start})
    run_id: str = run["run"]["info"]["run_id"]
    return run_id


def log_dataset(client: TestClient, run_id: str, name: str, context: str | None) -> None:
    tags = [{"key": "mlflow.data.context", "value": context}] if context else []
    dataset = {"name": name, "digest": "d" + name, "source_type": "local", "source": "{}"}
    post(
        client,
        API + "/runs/log-inputs",
        {"run_id": run_id, "datasets": [{"tags": tags, "dataset": dataset}]},
    )


def test_dataset_summaries_of_the_experiments_runs(client: TestClient) -> None:
    first = post(client, API + "/experiments/create", {"name": "a"})["experiment_id"]
    second = post(client, API + "/experiments/create", {"name": "b"})["experiment_id"]
    other = post(client, API + "/experiments/create", {"name": "c"})["experiment_id"]
    older, newer, deleted = (new_run(client, first, t) for t in (1, 2, 3))
    log_dataset(client, newer, "train", "training")
    log_dataset(client, older, "train", "training")
    log_dataset(client, older, "eval", None)
    log_dataset(client, deleted, "gone", "training")
    post(client, API + "/runs/delete", {"run_id": deleted})
    log_dataset(client, new_run(client, second, 1), "train", "training")
    log_dataset(client, new_run(client, other, 1), "elsewhere", "training")

    answer = post(client, DATASETS, {"experiment_ids": [second, first]})

    assert mlflows(SearchDatasets.Response, answer) == {
        "dataset_summaries": [
            {"experiment_id": second, "name": "train", "digest": "dtrain", "context": "training"},
            {"experiment_id": first, "name": "train", "digest": "dtrain", "context": "training"},
            {"experiment_id": first, "name": "eval", "digest": "deval"},
            {"experiment_id": first, "name": "gone", "digest": "dgone", "context": "training"},
        ]
    }
    # An experiment whose runs logged no inputs, or none at all: MLflow's empty message.
    assert post(client, DATASETS, {"experiment_ids": ["987654"]}) == {}


def test_dataset_summaries_refusals(client: TestClient) -> None:
    refused(client.post(DATASETS, json={}), "'experiment_ids'")
    refused(client.post(DATASETS, json={"experiment_ids": []}), "'experiment_ids'")
    refused(client.post(DATASETS, json={"experiment_ids": ["abc"]}), "'experiment_ids'", "'abc'")
    too_many = [str(i) for i in range(21)]
    refused(client.post(DATASETS, json={"experiment_ids": too_many}), "at most 20", "got 21")
    # Where MLflow serves it, and only so: POST under /ajax-api.
    assert (
        client.post(
            API + "/experiments/search-datasets", json={"experiment_ids": ["1"]}
        ).status_code
        == 404
    )
    assert client.get(DATASETS, params={"experiment_ids": "1"}).status_code == 405


def metrics_request(**fields: Any) -> dict[str, Any]:
    return {
        "experiment_ids": ["1"],
        "view_type": "TRACES",
        "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
        **fields,
    }


# What MLflow answers for an experiment with no traces: SQL's one row of an ungrouped COUNT (0),
# and nothing once the rows are grouped (dimensions, time buckets) or only null aggregates remain.
METRICS_ANSWERS = [
    (
        metrics_request(),
        {"data_points": [{"metric_name": "trace_count", "values": {"COUNT": 0.0}}]},
    ),
    (metrics_request(dimensions=["trace_status"]), {}),
    (metrics_request(time_interval_seconds=86400, start_time_ms=1, end_time_ms=2), {}),
    (
        metrics_request(
            metric_name="latency",
            aggregations=[{"aggregation_type": "PERCENTILE", "percentile_value": 50}],
        ),
        {},
    ),
    (
        metrics_request(
            view_type="SPANS", metric_name="total_cost", aggregations=[{"aggregation_type": "SUM"}]
        ),
        {},
    ),
]


@pytest.mark.parametrize(("request_body", "expected"), METRICS_ANSWERS)
def test_trace_metrics_of_an_experiment_without_traces(
    client: TestClient, request_body: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert mlflows(QueryTraceMetrics.Response, post(client, METRICS, request_body)) == expected
    # The same under /api/3.0; never under /2.0.
    assert post(client, "/api/3.0/mlflow/traces/metrics", request_body) == expected
    assert client.post("/ajax-api/2.0/mlflow/traces/metrics", json=request_body).status_code == 404


@pytest.mark.parametrize(
    ("request_body", "named"),
    [
        ({k: v for k, v in metrics_request().items() if k != "experiment_ids"}, "'experiment_ids'"),
        ({k: v for k, v in metrics_request().items() if k != "view_type"}, "'view_type'"),
        (metrics_request(view_type="ROWS"), "'view_type'"),
        ({k: v for k, v in metrics_request().items() if k != "metric_name"}, "'metric_name'"),
        (metrics_request(aggregations=[]), "'aggregations'"),
        (
            metrics_request(aggregations=[{"aggregation_type": "MEDIAN"}]),
            "'aggregations[0].aggregation_type'",
        ),
        (metrics_request(time_interval_seconds=60), "start_time_ms and end_time_ms"),
        (metrics_request(experiment_ids=["x"]), "'experiment_ids'"),
    ],
)
def test_trace_metrics_refusals(
    client: TestClient, request_body: dict[str, Any], named: str
) -> None:
    refused(client.post(METRICS, json=request_body), named)


def test_no_traces_are_found(client: TestClient) -> None:
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}
    request_body = {
        "locations": [location],
        "filter": "attributes.timestamp_ms > 1",
        "max_results": 25,
    }

    assert mlflows(SearchTracesV3.Response, post(client, TRACES, request_body)) == {}
    refused(client.post(TRACES, json={"max_results": 25}), "'locations'")
    refused(client.post(TRACES, json={**request_body, "max_results": 501}), "'max_results'", "500")


def test_ui_telemetry_is_off(client: TestClient) -> None:
    assert client.get(TELEMETRY).json() == FALLBACK_UI_CONFIG
    records = {"records": [{"event_name": "click", "timestamp_ns": 1, "params": {}}]}
    assert post(client, TELEMETRY, records) == {"status": "disabled"}
    assert post(client, TELEMETRY, {}) == {"status": "disabled"}


def test_a_large_telemetry_batch_is_refused_unread(client: TestClient) -> None:
    response = client.post(TELEMETRY, content=b"x" * (1024 * 1024 + 1))

    assert response.status_code == 413
    assert response.json()["error_code"] == "RESOURCE_EXHAUSTED"
