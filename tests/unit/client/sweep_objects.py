"""A Sweep and its trial Runs as the API server holds them, and a stand-in for the project upload,
for the SDK's and the CLI's tests of sweeps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from mlkube import layout

Obj = dict[str, Any]
UPLOADED = "mlflow-artifacts:/projects/" + "e" * 64 + ".tar.gz"
COMMIT = "c" * 40
PROJECT = Path(__file__).resolve().parents[3] / "examples" / "sklearn-elasticnet"
MANIFEST = """\
apiVersion: mlkube.io/v1alpha1
kind: Sweep
metadata:
  name: tune
spec:
  template:
    experiment: wine
    parameters: {seed: "7"}
  searchSpace:
    alpha: {type: float, low: 0.0, high: 1.0, step: 0.5}
    l1_ratio: {type: categorical, values: ["0.1", "0.9"]}
  algorithm: grid
  objective: {metric: rmse, direction: minimize}
  parallelism: 2
  maxRuns: 4
"""
BEST: Obj = {"run": "tune-t1", "trial": 1, "runId": "1" * 32, "parameters": {}, "value": 0.5}


def spec() -> Obj:
    return {
        "template": {"experiment": "wine", "project": {"uri": UPLOADED}},
        "searchSpace": {
            "alpha": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.5},
            "l1_ratio": {"type": "categorical", "values": ["0.1", "0.9"]},
        },
        "algorithm": "grid",
        "objective": {"metric": "rmse", "direction": "minimize"},
        "parallelism": 2,
        "maxRuns": 4,
    }


def sweep(name: str = "tune", **status: Any) -> Obj:
    return {
        "metadata": {"name": name, "uid": "u-" + name, "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": spec(),
        "status": status,
    }


def trial(
    index: int,
    phase: str | None,
    rmse: float | None = None,
    *,
    sweep_name: str = "tune",
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """Trial ``index`` of ``sweep_name``: alpha index/2, l1_ratio 0.1, the fixed seed."""
    status: Obj = {"runId": f"{index:032x}"}
    if phase:
        status["phase"] = phase
    if rmse is not None:
        status["metrics"] = {"rmse": {"value": rmse, "timestamp": 1, "step": 3}}
    return {
        "metadata": {
            "name": f"{sweep_name}-t{index}",
            "labels": {layout.SWEEP_LABEL: sweep_name, layout.TRIAL_LABEL: str(index)},
            "annotations": dict(annotations or {}),
        },
        "spec": {
            "experiment": "wine",
            "project": {"uri": UPLOADED},
            "parameters": {"alpha": str(index / 2), "l1_ratio": "0.1", "seed": "7"},
        },
        "status": status,
    }


def parent(sweep_name: str = "tune") -> Obj:
    """The sweep's parent run: labelled as the parent, not as a trial."""
    return {
        "metadata": {"name": sweep_name, "labels": {layout.SWEEP_PARENT_LABEL: sweep_name}},
        "spec": {"experiment": "wine", "runName": sweep_name},
        "status": {"phase": "Running"},
    }


def fake_upload(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the upload through the tracking server (and git) with a record of what was
    uploaded; the project gets UPLOADED as its URI and COMMIT as its commit."""
    uploaded: list[Path] = []

    def upload(root: Path, *_: Any, **__: Any) -> str:
        uploaded.append(root)
        return UPLOADED

    monkeypatch.setattr("mlkube.client.submit.upload", upload)
    monkeypatch.setattr("mlkube.client.submit.git_commit", lambda _: COMMIT)
    return uploaded
