"""`mlkube serve` as a real process: MLflow's predictions over HTTP, several workers with
summed metrics, and a graceful stop that finishes in-flight requests."""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import httpx
import pandas as pd
import pytest
from e2e.cluster.waiting import eventually
from tests.integration.models.conftest import STOP_TIMEOUT, Served, rows_and_predictions

from mlkube.models import PythonModel, infer_signature
from mlkube.models import python_model as mk_python

Serve = Callable[..., Served]


def invoke(served: Served, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{served.url}/invocations", json=body, timeout=timeout)


def test_predictions_over_http_equal_mlflow_local_ones(mlflow_models: Path, serve: Serve) -> None:
    rows, expected = rows_and_predictions(mlflow_models)
    served = serve(mlflow_models / "skops", "--workers", "2")
    answers = [invoke(served, {"dataframe_split": rows}) for _ in range(6)]
    assert {a.status_code for a in answers} == {200}
    for answer in answers:
        assert answer.json() == {"predictions": expected["skops"]}
    records = pd.DataFrame(rows["data"], columns=rows["columns"]).to_dict(orient="records")
    assert invoke(served, {"dataframe_records": records}).json()["predictions"] == expected["skops"]
    # Every worker writes its samples to a shared directory; any worker's /metrics sums them.
    text = httpx.get(f"{served.url}/metrics", timeout=10).text
    match = re.search(
        r'^mlkube_serve_requests_total\{path="/invocations",status="200"\} (\S+)$', text, re.M
    )
    assert match is not None, text
    assert float(match.group(1)) == 7


def test_custom_models_with_params(mlflow_models: Path, serve: Serve) -> None:
    rows, expected = rows_and_predictions(mlflow_models)
    served = serve(mlflow_models / "custom")
    answer = invoke(served, {"dataframe_split": rows, "params": {"shift": 1.5}})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": expected["custom"]}
    bad = invoke(served, {"dataframe_split": rows, "params": {"shift": "x"}})
    assert bad.status_code == 400
    assert "params.shift" in bad.json()["message"]


class Sleepy(PythonModel):
    """Sleeps as long as asked, first touching the file `started` names (when it names one), so a
    test can tell that the request is in flight."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        if params.get("started"):
            Path(params["started"]).touch()
        time.sleep(float(params.get("sleep", 0.0)))
        return model_input


@pytest.fixture
def sleepy(tmp_path: Path) -> Path:
    # By value: the server process need not import this test module.
    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        params = {"sleep": 0.0, "started": ""}
        signature = infer_signature(pd.DataFrame({"x": [1.0]}), params=params)
        mk_python.save_model(tmp_path / "sleepy", Sleepy(), signature=signature)
    finally:
        cloudpickle.unregister_pickle_by_value(module)
    return tmp_path / "sleepy"


def test_sigterm_drains_then_finishes_in_flight_requests(
    sleepy: Path, serve: Serve, tmp_path: Path
) -> None:
    served = serve(sleepy, "--shutdown-delay", "1.5", "--graceful-timeout", "10")
    slow: dict[str, httpx.Response] = {}
    started = tmp_path / "started"
    body = {"inputs": {"x": [1.0]}, "params": {"sleep": 2.5, "started": str(started)}}
    worker = threading.Thread(target=lambda: slow.update(answer=invoke(served, body)))
    worker.start()
    eventually(started.exists, timeout=30, what="the slow request to reach the model")
    served.process.send_signal(signal.SIGTERM)
    # Draining: health says go away, scoring still works. The 1.5 s delay runs from when the
    # server handles the signal, so seeing the 503 at all means the next request is inside it.
    eventually(
        lambda: httpx.get(f"{served.url}/health", timeout=5).status_code == 503,
        timeout=10,
        what="/health to answer 503 while draining",
        every=0.05,
    )
    assert invoke(served, {"inputs": {"x": [2.0]}}).json() == {"predictions": [{"x": 2.0}]}
    worker.join(timeout=STOP_TIMEOUT)
    assert slow["answer"].status_code == 200
    assert slow["answer"].json() == {"predictions": [{"x": 1.0}]}
    assert served.process.wait(timeout=STOP_TIMEOUT) == 0, served.output()
