"""models:/ URIs resolved through a real `mlflow server` (the reference registry and artifact
proxy), then loaded by mlkube: by version, by alias and by stage."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from tests.integration.models.conftest import (
    START_TIMEOUT,
    free_port,
    stop,
    subprocess_env,
)

from mlkube.models import load_model
from mlkube.serving.source import fetch_model


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            cwd=root,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield url
    finally:
        stop(process)


def test_versions_aliases_and_stages_resolve(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    features, target = load_diabetes(return_X_y=True, as_frame=True)
    estimator = ElasticNet(alpha=0.01, random_state=0).fit(features, target)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            estimator,
            name="model",
            input_example=features.head(2),
            registered_model_name="diabetes",
            pip_requirements=["scikit-learn"],
        )
    client = MlflowClient(tracking_uri)
    client.set_registered_model_alias("diabetes", "champion", "1")
    client.transition_model_version_stage("diabetes", "1", "Staging")
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    rows = features.sample(5, random_state=3)
    for index, uri in enumerate(
        ["models:/diabetes/1", "models:/diabetes@champion", "models:/diabetes/Staging"]
    ):
        directory = fetch_model(uri, tmp_path / str(index), env)
        predictions = load_model(directory).predict(rows)
        np.testing.assert_allclose(predictions, estimator.predict(rows), rtol=1e-12)
