"""metrics/get-history-bulk-interval (issue 14: every step chart of MLflow's UI calls it).

The reference is the installed MLflow's own store, the one ``mlflow server`` runs by default
(SQL over SQLite): the same histories are logged into it and into mlkube, and both must return
the same points, from a 10,000-step history to gaps, several values per step, step bounds,
NaN and infinities, and several runs at once.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric as MlflowMetric
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from starlette.testclient import TestClient

from mlkube_operator.server import metric_sampling
from mlkube_operator.server.entities import Metric

API = "/api/2.0/mlflow"
PATH = "/metrics/get-history-bulk-interval"
# A point as both sides report it: (step, timestamp, value), NaN spelled out to compare equal.
Point = tuple[int, int, Any]
History = list[tuple[float, int, int]]  # (value, timestamp, step) as logged


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> SqlAlchemyStore:
    root: Path = tmp_path_factory.mktemp("mlflow")
    return SqlAlchemyStore(f"sqlite:///{root}/mlflow.db", str(root / "artifacts"))


def _point(step: int, timestamp: int, value: float | str) -> Point:
    """MLflow's SQL store keeps an infinity as the largest finite double (mlkube keeps it, as
    MLflow's file store does): the same point either way."""
    if isinstance(value, str):  # REST: "NaN", "Infinity", "-Infinity"
        value = float(value)
    if math.isnan(value):
        return (step, timestamp, "NaN")
    if abs(value) == sys.float_info.max:
        value = math.copysign(math.inf, value)
    return (step, timestamp, value)


def mlflow_sample(
    store: SqlAlchemyStore,
    histories: list[History],
    max_results: int,
    start_step: int | None = None,
    end_step: int | None = None,
) -> list[list[Point]]:
    """What MLflow's store returns for these histories, one list of points per run."""
    experiment_id = store.create_experiment(f"e{random.random()}")
    run_ids = [store.create_run(experiment_id, "u", 0, [], "r").info.run_id for _ in histories]
    for run_id, history in zip(run_ids, histories, strict=True):
        metrics = [MlflowMetric("m", v, t, s) for v, t, s in history]
        for i in range(0, len(metrics), 1000):
            store.log_batch(run_id, metrics[i : i + 1000], [], [])
    found = store.get_metric_history_bulk_interval(run_ids, "m", max_results, start_step, end_step)
    return [
        [_point(m.step, m.timestamp, m.value) for m in found if m.run_id == run_id]
        for run_id in run_ids
    ]


def mlkube_sample(
    history: History, max_results: int, start_step: int | None = None, end_step: int | None = None
) -> list[Point]:
    metrics = [Metric("m", v, t, s) for v, t, s in history]
    sampled = metric_sampling.sample(metrics, max_results, start_step, end_step)
    return [_point(m.step, m.timestamp, m.value) for m in sampled]


def one_per_step(steps: range | list[int]) -> History:
    return [(float(step) / 7, 1000 + step, step) for step in steps]


TEN_THOUSAND = one_per_step(range(10_000))


@pytest.mark.parametrize("max_results", [2500, 320, 100, 7, 2, 1])
def test_ten_thousand_steps(reference: SqlAlchemyStore, max_results: int) -> None:
    (expected,) = mlflow_sample(reference, [TEN_THOUSAND], max_results)
    got = mlkube_sample(TEN_THOUSAND, max_results)
    assert [p[0] for p in got] == [p[0] for p in expected]
    assert got == expected
    assert len(got) == max_results
    assert got[-1][0] == 9_999  # the end is always drawn; the start unless one point is asked
    assert got[0][0] == (9_999 if max_results == 1 else 0)


@pytest.mark.parametrize(
    ("start_step", "end_step", "max_results"),
    [(1234, 5678, 100), (0, 9_999, 2500), (9_000, 20_000, 3), (5, 5, 10), (20_000, 30_000, 10)],
)
def test_step_bounds(
    reference: SqlAlchemyStore, start_step: int, end_step: int, max_results: int
) -> None:
    (expected,) = mlflow_sample(reference, [TEN_THOUSAND], max_results, start_step, end_step)
    assert mlkube_sample(TEN_THOUSAND, max_results, start_step, end_step) == expected


def _irregular() -> dict[str, History]:
    rng = random.Random(14)
    gaps = one_per_step(sorted(rng.sample(range(100_000), 3_000)))
    several: History = []
    for step in range(400):
        for k in range(rng.randint(1, 6)):
            several.append((rng.choice([0.0, 1.0, -2.5, rng.random()]), 10 * step + k, step))
    all_at_zero = [(rng.random(), 5_000 + t, 0) for t in range(3_000)]
    ties = [
        (value, timestamp, step)
        for step in range(50)
        for timestamp in (1, 2)
        for value in (0.0, math.nan, math.inf, -math.inf, 3.0)
    ]
    out_of_order = one_per_step(list(range(2_000, 0, -1)))
    return {
        "gaps": gaps,
        "several per step": several,
        "all at step 0": all_at_zero,
        "NaN, infinities and ties": ties,
        "logged backwards": out_of_order,
        "one point": [(1.0, 1, 3)],
    }


IRREGULAR = _irregular()


@pytest.mark.parametrize("name", list(IRREGULAR))
@pytest.mark.parametrize("max_results", [2500, 320, 9, 1])
def test_irregular_histories(reference: SqlAlchemyStore, name: str, max_results: int) -> None:
    history = IRREGULAR[name]
    (expected,) = mlflow_sample(reference, [history], max_results)
    assert mlkube_sample(history, max_results) == expected
    (bounded,) = mlflow_sample(reference, [history], max_results, 10, 300)
    assert mlkube_sample(history, max_results, 10, 300) == bounded


def _log(client: TestClient, experiment_id: str, history: History) -> str:
    run = client.post(API + "/runs/create", json={"experiment_id": experiment_id}).json()
    run_id: str = run["run"]["info"]["run_id"]
    metrics = [{"key": "m", "value": v, "timestamp": t, "step": s} for v, t, s in history]
    for i in range(0, len(metrics), 1000):
        batch = {"run_id": run_id, "metrics": metrics[i : i + 1000]}
        response = client.post(API + "/runs/log-batch", json=batch)
        assert response.status_code == 200, response.text
    return run_id


def test_several_runs_over_rest_as_mlflow(client: TestClient, reference: SqlAlchemyStore) -> None:
    histories = [TEN_THOUSAND, IRREGULAR["gaps"], IRREGULAR["several per step"], []]
    experiment_id = client.post(API + "/experiments/create", json={"name": "charts"}).json()[
        "experiment_id"
    ]
    run_ids = [_log(client, experiment_id, h) for h in histories]
    expected = mlflow_sample(reference, histories, 320, 100, 9_000)
    query = {"run_ids": run_ids, "metric_key": "m", "max_results": 320}
    for prefix in (API, "/ajax-api/2.0/mlflow"):
        response = client.get(prefix + PATH, params={**query, "start_step": 100, "end_step": 9000})
        assert response.status_code == 200, response.text
        metrics = response.json()["metrics"]
        assert set(metrics[0]) == {"key", "value", "timestamp", "step", "run_id"}
        got = [
            [_point(m["step"], m["timestamp"], m["value"]) for m in metrics if m["run_id"] == r]
            for r in run_ids
        ]
        assert got == expected
        # Runs come back in the order asked, each run's points in step order.
        assert [m["run_id"] for m in metrics] == sorted(
            (m["run_id"] for m in metrics), key=run_ids.index
        )


def test_default_max_results_and_an_unknown_run(client: TestClient) -> None:
    experiment_id = client.post(API + "/experiments/create", json={"name": "d"}).json()[
        "experiment_id"
    ]
    run_id = _log(client, experiment_id, TEN_THOUSAND)
    params = {"run_ids": [run_id, "no-such-run"], "metric_key": "m"}
    metrics = client.get(API + PATH, params=params).json()["metrics"]
    assert len(metrics) == 2500  # MLflow's default and limit per run
    # A run named twice is answered twice, as MLflow does; nothing at all is an empty object.
    twice = {"run_ids": [run_id, run_id], "metric_key": "m", "max_results": 2}
    assert [m["step"] for m in client.get(API + PATH, params=twice).json()["metrics"]] == [
        0,
        9_999,
        0,
        9_999,
    ]
    assert client.get(API + PATH, params={"run_ids": "no-such-run", "metric_key": "m"}).json() == {}


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"metric_key": "m"}, "'run_ids'"),
        ({"run_ids": "r"}, "'metric_key'"),
        ({"run_ids": [f"r{i}" for i in range(101)], "metric_key": "m"}, "limit of 100"),
        ({"run_ids": "r", "metric_key": "m", "max_results": 0}, "between 1 and 2500"),
        ({"run_ids": "r", "metric_key": "m", "max_results": 2501}, "between 1 and 2500"),
        ({"run_ids": "r", "metric_key": "m", "max_results": "x"}, "'max_results'"),
        ({"run_ids": "r", "metric_key": "m", "start_step": 1}, "give both"),
        ({"run_ids": "r", "metric_key": "m", "end_step": 1}, "give both"),
        ({"run_ids": "r", "metric_key": "m", "start_step": 5, "end_step": 2}, "end_step"),
        ({"run_ids": "r", "metric_key": "m", "start_step": "a", "end_step": 2}, "'start_step'"),
    ],
)
def test_errors_in_mlflow_shape(client: TestClient, params: dict[str, Any], fragment: str) -> None:
    response = client.get(API + PATH, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert fragment in body["message"]


def test_a_hundred_runs_are_allowed(client: TestClient) -> None:
    params = {"run_ids": [f"r{i}" for i in range(100)], "metric_key": "m", "max_results": 2500}
    assert client.get(API + PATH, params=params).status_code == 200
