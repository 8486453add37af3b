"""Tiny models for the registry and serving faults: y = slope * x, so a prediction at x = 1
names the model that answered."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from mlflow.tracking import MlflowClient

FEATURE = "x"


def log_linear_model(client: MlflowClient, run_id: str, slope: float, workdir: Path) -> None:
    """Save y = slope * x with MLflow's sklearn flavor and log it as the run's ``model/``."""
    import mlflow.sklearn
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    x = pd.DataFrame({FEATURE: [0.0, 1.0, 2.0]})
    model = LinearRegression().fit(x, slope * x[FEATURE])
    path = workdir / f"model-{slope:g}"
    # Named requirements: inferring them would import-trace the model in a subprocess.
    mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"])
    client.log_artifacts(run_id, str(path), "model")


def predict(url: str, timeout: float = 10) -> float:
    """The served model's answer at x = 1, on a new connection (the Service balances
    connections); raises on anything but a 200."""
    parts = urlsplit(url)
    assert parts.hostname is not None, url
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        body = json.dumps({"dataframe_split": {"columns": [FEATURE], "data": [[1.0]]}})
        connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {payload[:200]!r}")
        return float(json.loads(payload)["predictions"][0])
    finally:
        connection.close()
