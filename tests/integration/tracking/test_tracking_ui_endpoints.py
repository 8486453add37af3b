"""Issue 14: the endpoints MLflow's web UI calls beyond the clients' REST API, asked of MLflow's own
server (SQLite, proxied artifacts) and of mlkube's for the same data logged by the stock client:
the same statuses, error codes, bytes and shapes.

mlkube's server runs on its memory backend here: what is compared is the HTTP layer, and a
server process needs no cluster. The one store method these endpoints add (dataset_summaries) is
in the store contract, which runs against the API server in test_tracking_kube_store.py. Where
mlkube deliberately differs it is said here: text types carry ``charset=utf-8``, every file
carries a sandboxing Content-Security-Policy, a file name is quoted.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression
from tests.integration.tracking.conftest import TrackingServer, start_mlkube, stop, wait_healthy

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63"
    "60000002000154a24f5d0000000049454e44ae426082"
)
FILES = {
    "notes.txt": b"hello\n",
    "table.csv": b"a,b\n1,2\n",
    "data.json": b'{"k": [1, 2]}',
    "page.html": b"<html><script>window.x = 1</script><p>hi</p></html>",
    "pic.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "pic.png": PNG,
    "blob.bin": b"\x00\x01",
}


@dataclass(frozen=True)
class Logged:
    url: str
    experiment_id: str
    run_id: str
    model_id: str
    model_name: str  # a registered model, whose version 1 is the logged model

    def get(self, route: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + route, params=params, timeout=30)

    def post(self, route: str, body: Any) -> httpx.Response:
        return httpx.post(self.url + route, json=body, timeout=30)


def log_everything(server: TrackingServer, name: str) -> Logged:
    """Runs with dataset inputs and files, a logged model, version 1 of a registered model."""
    mlflow.set_tracking_uri(server.url)
    try:
        experiment_id = mlflow.set_experiment(name).experiment_id
        frame = pd.DataFrame({"x": np.arange(6.0), "y": np.arange(6.0) * 2})
        with tempfile.TemporaryDirectory() as directory:
            for file, data in FILES.items():
                (Path(directory) / file).write_bytes(data)
            with mlflow.start_run():
                mlflow.log_input(mlflow.data.from_pandas(frame, name="eval"))
            with mlflow.start_run() as run:
                mlflow.log_input(mlflow.data.from_pandas(frame, name="train"), context="training")
                mlflow.log_artifacts(directory)
                model = LinearRegression().fit(frame[["x"]], frame["y"])
                info = mlflow.sklearn.log_model(model, name="model")
        mlflow.register_model(f"models:/{info.model_id}", name, await_registration_for=0)
        return Logged(server.url, experiment_id, run.info.run_id, info.model_id, name)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None resets to the default


@pytest.fixture(scope="module")
def mlkube_memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    log = tmp_path_factory.mktemp("mlkube-memory") / "server.log"
    process, url = start_mlkube(None, "default", log)
    try:
        wait_healthy(url, process, log)
        yield TrackingServer("mlkube", url, "default", log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def pair(mlflow_server: TrackingServer, mlkube_memory: TrackingServer) -> tuple[Logged, Logged]:
    name = f"ui-{uuid.uuid4().hex[:8]}"
    return log_everything(mlflow_server, name), log_everything(mlkube_memory, name)


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


def filename(response: httpx.Response) -> str:
    found = re.search(r'filename="?([^";]+)"?', response.headers["content-disposition"])
    assert found, response.headers["content-disposition"]
    assert response.headers["content-disposition"].startswith("attachment;")
    return found.group(1)


def same_error(expected: httpx.Response, got: httpx.Response) -> None:
    assert got.status_code == expected.status_code, (expected.text, got.text)
    assert got.json()["error_code"] == expected.json()["error_code"], (expected.text, got.text)


@pytest.mark.parametrize("file", sorted(FILES))
def test_a_run_file_as_mlflow_sends_it(pair: tuple[Logged, Logged], file: str) -> None:
    reference, ours = (p.get("/get-artifact", path=file, run_uuid=p.run_id) for p in pair)

    assert reference.status_code == ours.status_code == 200, ours.text
    assert ours.content == reference.content == FILES[file]
    assert media(ours) == media(reference)
    assert filename(ours) == filename(reference) == file
    assert ours.headers["x-content-type-options"] == reference.headers["x-content-type-options"]
    assert ours.headers["content-security-policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("path", ["../x", "%2e%2e/x", "/etc/passwd", "a#b", "nope.txt"])
def test_run_file_errors_as_mlflows(pair: tuple[Logged, Logged], path: str) -> None:
    reference, ours = (p.get("/get-artifact", path=path, run_uuid=p.run_id) for p in pair)
    same_error(reference, ours)
    reference, ours = (p.get("/get-artifact", path="a.txt", run_uuid="0" * 32) for p in pair)
    same_error(reference, ours)


def mlmodel_keys(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    assert media(response) == "text/plain"
    return set(yaml.safe_load(response.text))


def test_a_logged_model_file_and_its_errors(pair: tuple[Logged, Logged]) -> None:
    def files(logged: Logged, model_id: str | None = None, **params: str) -> httpx.Response:
        path = f"/ajax-api/2.0/mlflow/logged-models/{model_id or logged.model_id}/artifacts/files"
        return logged.get(path, **params)

    reference, ours = (files(p, artifact_file_path="MLmodel") for p in pair)
    assert mlmodel_keys(ours) == mlmodel_keys(reference)
    for params in ({}, {"artifact_file_path": "../../x"}, {"artifact_file_path": "nope"}):
        same_error(*(files(p, **params) for p in pair))
    same_error(*(files(p, "m-" + "0" * 32, artifact_file_path="MLmodel") for p in pair))


def test_a_version_file_and_its_errors(pair: tuple[Logged, Logged]) -> None:
    def version(logged: Logged, **params: str) -> httpx.Response:
        return logged.get("/model-versions/get-artifact", **params)

    reference, ours = (version(p, path="MLmodel", name=p.model_name, version="1") for p in pair)
    assert mlmodel_keys(ours) == mlmodel_keys(reference)
    for params in ({"version": "9"}, {"version": "x"}, {"version": "1", "path": "../MLmodel"}):
        same_error(
            *(version(p, **{"path": "MLmodel", "name": p.model_name, **params}) for p in pair)
        )


def test_dataset_summaries_as_mlflows(pair: tuple[Logged, Logged]) -> None:
    path = "/ajax-api/2.0/mlflow/experiments/search-datasets"
    answers = [p.post(path, {"experiment_ids": [p.experiment_id]}) for p in pair]

    summaries = []
    for logged, answer in zip(pair, answers, strict=True):
        assert answer.status_code == 200, answer.text
        found = answer.json()["dataset_summaries"]
        assert {s["experiment_id"] for s in found} == {logged.experiment_id}
        summaries.append(
            sorted(json.dumps({**s, "experiment_id": ""}, sort_keys=True) for s in found)
        )
    assert summaries[0] == summaries[1]
    assert len(summaries[0]) == 2
    for body in ({"experiment_ids": []}, {"experiment_ids": [str(i) for i in range(21)]}):
        same_error(*(p.post(path, body) for p in pair))


# What the experiment Overview asks (MLflow 3.17.2's UI, recorded from its requests).
UI_TRACE_METRICS = [
    {
        "metric_name": "trace_count",
        "aggregations": [{"aggregation_type": "COUNT"}],
        "dimensions": ["trace_status"],
        "time_interval_seconds": 86400,
    },
    {"metric_name": "trace_count", "aggregations": [{"aggregation_type": "COUNT"}]},
    {"metric_name": "latency", "aggregations": [{"aggregation_type": "AVG"}]},
    {
        "metric_name": "latency",
        "aggregations": [{"aggregation_type": "PERCENTILE", "percentile_value": 50}],
        "time_interval_seconds": 86400,
    },
    {
        "metric_name": "total_tokens",
        "aggregations": [{"aggregation_type": "SUM"}, {"aggregation_type": "AVG"}],
    },
]


@pytest.mark.parametrize("fields", UI_TRACE_METRICS)
def test_trace_metrics_as_mlflows(pair: tuple[Logged, Logged], fields: dict[str, Any]) -> None:
    def ask(logged: Logged) -> httpx.Response:
        body = {
            "experiment_ids": [logged.experiment_id],
            "view_type": "TRACES",
            "start_time_ms": 1,
            "end_time_ms": 2**40,
            **fields,
        }
        return logged.post("/ajax-api/3.0/mlflow/traces/metrics", body)

    reference, ours = (ask(p) for p in pair)
    assert reference.status_code == ours.status_code == 200, ours.text
    assert ours.json() == reference.json()


def test_trace_search_as_mlflows(pair: tuple[Logged, Logged]) -> None:
    def ask(logged: Logged) -> httpx.Response:
        location = {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": logged.experiment_id},
        }
        body = {"locations": [location], "max_results": 25, "order_by": ["timestamp DESC"]}
        return logged.post("/ajax-api/3.0/mlflow/traces/search", body)

    reference, ours = (ask(p) for p in pair)
    assert reference.status_code == ours.status_code == 200, ours.text
    assert ours.json() == reference.json() == {}


def test_step_chart_history_of_an_unknown_run_as_mlflows(pair: tuple[Logged, Logged]) -> None:
    # MLflow answers an empty 200 both for a run that does not exist and for a metric a run
    # never logged (observed on mlflow server 3.17.2, SQLite): the UI asks before runs load.
    route = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
    for run_id in ("0" * 32, None):
        reference, ours = (
            p.get(route, run_ids=run_id or p.run_id, metric_key="nope") for p in pair
        )
        assert (ours.status_code, ours.json()) == (reference.status_code, reference.json())
        assert ours.json() == {}
