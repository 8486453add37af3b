"""Unit tests of the scoring server (mlkube.serving): the ASGI app in-process, payload parsing,
the numeric fast path, metrics, and model sources.

Boundary: no sockets and no subprocesses. The app runs under Starlette's TestClient; models are
saved with mlkube.models into pytest's tmp_path; the object store and the tracking server's
REST API are small in-memory fakes passed in. The real server process (uvicorn, workers,
signals) is tested in tests/integration/models.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet
from starlette.testclient import TestClient

from mlkube.models import PythonModel, infer_signature, load_model
from mlkube.models import python_model as mk_python
from mlkube.models import sklearn as mk_sklearn
from mlkube.serving.app import ScoringApp

COLUMNS = ["a", "b", "c"]


@pytest.fixture(scope="session")
def features() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(40, 3)), columns=COLUMNS)


@pytest.fixture(scope="session")
def estimator(features: pd.DataFrame) -> ElasticNet:
    target = features @ np.array([1.5, -2.0, 0.25]) + 0.1
    return ElasticNet(alpha=0.01).fit(features, target)


@pytest.fixture(scope="session")
def sklearn_dir(
    tmp_path_factory: pytest.TempPathFactory, estimator: ElasticNet, features: pd.DataFrame
) -> Path:
    path = tmp_path_factory.mktemp("models") / "elasticnet"
    mk_sklearn.save_model(estimator, path, input_example=features.head(3))
    return path


class Echo(PythonModel):
    """Returns its input (a DataFrame) scaled by the param `k`; sleeps `sleep` seconds first."""

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        if params.get("sleep"):
            time.sleep(float(params["sleep"]))
        return model_input * params.get("k", 1.0)


@pytest.fixture(scope="session")
def echo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "echo"
    signature = infer_signature(pd.DataFrame({"x": [1.0]}), params={"k": 1.0, "sleep": 0.0})
    mk_python.save_model(path, Echo(), signature=signature)
    return path


@pytest.fixture
def client(sklearn_dir: Path) -> TestClient:
    return TestClient(ScoringApp(load_model(sklearn_dir)))


@pytest.fixture
def echo(echo_dir: Path) -> TestClient:
    return TestClient(ScoringApp(load_model(echo_dir), timeout=0.5))
