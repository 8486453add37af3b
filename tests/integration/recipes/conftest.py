"""Integration tests of recipes: whole runs of the steps, with the stock mlflow client against
an MLflow SQLite store in pytest's tmp_path (tracking and registry, in this process; no cluster:
e2e/test_recipes.py runs them against mlkube's tracking server and as Runs). One test starts a
separate interpreter on purpose: the engine that the cluster profile ships into a pod must run
from its staged copy alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh tracking and registry store for this test, set as mlflow's tracking URI. The
    test runs in tmp_path: a SQLite store keeps artifacts in ./mlruns."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None: back to the default
