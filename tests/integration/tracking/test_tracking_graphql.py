"""MLflow's web UI's four GraphQL queries, sent as the UI sends them, to `mlkube server` and to
`mlflow server` after the stock client logged the same data to both: the replies must be the
same but for what each server makes up (ids, its clock, artifact locations). So the UI cannot
tell them apart on those pages. The differences on purpose: a root field that fails answers
mlkube's ``apiError`` where MLflow's server writes ``errors`` (the UI reads both); a sampled
history's step range and size are honoured, which MLflow's server ignores through GraphQL.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param
from tests.integration.tracking.conftest import TrackingServer
from tests.unit.tracking.graphql_ui import ui_request

# What each server makes up itself: its clock, where it keeps artifacts, who it says logged
# (mlkube: the token's user; MLflow: the client's), and a version's status (mlkube's operator,
# which does not run here, marks a version READY).
OWN_VALUES = {
    "startTime",
    "creationTime",
    "lastUpdateTime",
    "creationTimestamp",
    "artifactUri",
    "artifactLocation",
    "userId",
}


@dataclass(frozen=True)
class Logged:
    experiment_id: str
    run_id: str
    running_id: str

    def placeholders(self) -> dict[str, str]:
        return {
            self.run_id: "<run>",
            self.running_id: "<running>",
        }


def log(server: TrackingServer, name: str, tmp_path: Path) -> Logged:
    """The same experiment, runs, metrics, dataset and registered version on ``server``."""
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    experiment_id = client.create_experiment(name, tags={"team": "risk"})
    run_id = client.create_run(experiment_id, run_name="a", tags={"src": "t"}).info.run_id
    metrics = [Metric("loss", 1 / (s + 1), 1_700_000_000_000 + s, s) for s in range(10)]
    metrics.append(Metric("odd", float("nan"), 1_700_000_000_000, 0))
    client.log_batch(run_id, metrics=metrics, params=[Param("alpha", "0.5")])
    dataset = Dataset("d", "abc", "local", '{"uri": "x"}', '{"a": 1}', '{"rows": 3}')
    client.log_inputs(run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])])
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_artifact(run_id, str(tmp_path / "MLmodel"), "m")
    client.set_terminated(run_id, "FINISHED", end_time=1_700_000_100_000)
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_id}/m", run_id, await_creation_for=0)
    running_id = client.create_run(experiment_id, run_name="b").info.run_id
    return Logged(experiment_id, run_id, running_id)


def post(server: TrackingServer, body: dict[str, Any]) -> Any:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{server.url}/graphql", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def comparable(value: Any, logged: Logged, key: str = "", parent: str = "") -> Any:
    """``value`` with each server's own values replaced by their kind, ids by placeholders and
    key-value lists in key order (the servers list tags and metrics in different orders)."""
    if isinstance(value, dict):
        return {k: comparable(v, logged, k, key) for k, v in value.items()}
    if isinstance(value, list):
        items = [comparable(v, logged, key, parent) for v in value]
        keyed = all(isinstance(i, dict) and "key" in i and "runId" not in i for i in items)
        return sorted(items, key=lambda i: i["key"]) if items and keyed else items
    if key in OWN_VALUES or (parent == "modelVersions" and key == "status"):
        return f"<{type(value).__name__}{' of digits' if str(value).isdigit() else ''}>"
    if key == "experimentId":
        return "<experiment>" if value == logged.experiment_id else value
    if isinstance(value, str):
        for made, placeholder in logged.placeholders().items():
            value = value.replace(made, placeholder)
    return value


@pytest.fixture
def both(
    mlkube_server: TrackingServer, mlflow_server: TrackingServer, tmp_path: Path
) -> tuple[tuple[TrackingServer, Logged], tuple[TrackingServer, Logged]]:
    name = f"graphql-{uuid.uuid4().hex[:8]}"
    return (
        (mlkube_server, log(mlkube_server, name, tmp_path)),
        (mlflow_server, log(mlflow_server, name, tmp_path)),
    )


QUERIES = [
    ("MlflowGetExperimentQuery", lambda d: {"experiment_id": d.experiment_id}),
    ("GetRun", lambda d: {"run_id": d.run_id}),
    ("GetRun", lambda d: {"run_id": d.running_id}),
    ("SearchRuns", lambda d: {"experiment_id": d.experiment_id, "run_id": d.run_id}),
    ("GetMetricHistoryBulkInterval", lambda d: {"run_ids": [d.run_id, d.running_id]}),
]


@pytest.mark.parametrize(("name", "values"), QUERIES)
def test_each_query_of_the_ui_is_answered_as_mlflow_answers_it(
    both: Any, name: str, values: Any
) -> None:
    (mlkube, ours), (mlflow, theirs) = both
    extra = {"metric_key": "loss"} if name == "GetMetricHistoryBulkInterval" else {}

    got = post(mlkube, ui_request(name, **values(ours), **extra))
    expected = post(mlflow, ui_request(name, **values(theirs), **extra))

    assert expected["errors"] is None, expected
    assert comparable(got, ours) == comparable(expected, theirs)


def test_a_step_range_is_answered_where_mlflow_ignores_it(both: Any) -> None:
    """MLflow's server reads the range and ``maxResults`` of a sampled history from the URL's
    query string, so through GraphQL it answers every step; mlkube answers what the UI asks, as
    its REST endpoint does."""
    (mlkube, ours), (mlflow, theirs) = both

    def steps(server: TrackingServer, logged: Logged) -> list[str]:
        request = ui_request(
            "GetMetricHistoryBulkInterval", run_ids=[logged.run_id], metric_key="loss", steps=(2, 6)
        )
        reply = post(server, request)
        return [m["step"] for m in reply["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]]

    assert steps(mlkube, ours) == ["2", "3", "4", "5", "6"]
    assert steps(mlflow, theirs) == [str(step) for step in range(10)]


def test_a_missing_run_is_reported_where_the_ui_looks_on_both(
    mlkube_server: TrackingServer, mlflow_server: TrackingServer
) -> None:
    """The run page shows "not found" for an apiError RESOURCE_DOES_NOT_EXIST, or for an error
    whose message ends with "not found" (MLflow's)."""
    request = ui_request("GetRun", run_id="0" * 32)

    ours = post(mlkube_server, request)
    theirs = post(mlflow_server, request)

    assert ours["errors"] is None
    assert ours["data"]["mlflowGetRun"]["run"] is None
    assert ours["data"]["mlflowGetRun"]["apiError"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert theirs["data"] == {"mlflowGetRun": None}
    assert theirs["errors"][0].endswith("not found")


@pytest.mark.parametrize(
    "query",
    [
        "{ " + " ".join(f"t{i}: __typename" for i in range(11)) + " }",
        "{ a " + "{ b " * 10 + "}" * 11,
    ],
    ids=["root fields", "depth"],
)
def test_both_refuse_a_query_past_mlflows_bounds(
    mlkube_server: TrackingServer, mlflow_server: TrackingServer, query: str
) -> None:
    for server in (mlkube_server, mlflow_server):
        reply = post(server, {"query": query})

        assert reply["data"] is None, server.kind
        assert len(reply["errors"]) == 1, server.kind
