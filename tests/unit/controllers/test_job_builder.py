"""The Job builder against checked-in golden manifests.

After an intended change, regenerate with `MLKUBE_UPDATE_GOLDEN=1 pytest tests/unit/controllers` and
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlkube.api import Run, parse
from mlkube_operator.resources.run import (
    JobSettings,
    RunIdentity,
    build_job,
    job_name,
    spec_problems,
)

GOLDEN = Path(__file__).parent / "golden"
SETTINGS = JobSettings(
    image="mlkube/runtime:0.1.0",
    tracking_uri="http://mlkube-server.mlkube.svc:5000",
    s3_endpoint="http://minio.mlkube.svc:9000",
    s3_bucket="mlkube",
    s3_secret="mlkube-s3",
)
IDS = RunIdentity(run_id="0123456789abcdef0123456789abcdef", experiment_id="3")


def run(spec: dict[str, Any], name: str = "train-1") -> Run:
    return parse(
        Run,
        {
            "metadata": {"name": name, "namespace": "ml", "uid": "9f0e-uid"},
            "spec": {"experiment": "churn", **spec},
        },
    )


CASES = {
    "job-archive": {
        "project": {"uri": "s3://mlkube/ml/projects/abc.tar.gz"},
        "parameters": {"alpha": "0.5", "l1_ratio": "0.1"},
    },
    "job-git-all-options": {
        "project": {"git": {"url": "https://git.example/p.git", "revision": "v1", "path": "sub"}},
        "entryPoint": "validate",
        "image": "python:3.11",
        "env": [
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}},
        ],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "backoffLimit": 2,
        "activeDeadlineSeconds": 600,
        "ttlSecondsAfterFinished": 3600,
    },
    "job-image-path-suspended": {"project": {"path": "/opt/project"}, "suspend": True},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_job_matches_golden(case: str) -> None:
    built = build_job(run(CASES[case]), IDS, SETTINGS)
    golden = GOLDEN / f"{case}.yaml"
    if os.environ.get("MLKUBE_UPDATE_GOLDEN"):
        golden.write_text(yaml.safe_dump(built, sort_keys=False, width=100))
    assert built == yaml.safe_load(golden.read_text())


def test_values_cannot_break_the_manifest_structure() -> None:
    hostile = 'x"\n  evil: {injected: true}\n#'
    built = build_job(run({"project": {"path": "/p"}, "parameters": {"k": hostile}}), IDS, SETTINGS)
    args = built["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-1] == f"k={hostile}"
    assert "evil" not in built["spec"]


def test_long_run_names_give_valid_stable_job_names() -> None:
    long = "a" * 60 + "-" + "b" * 100
    assert job_name(long) == job_name(long)
    assert len(job_name(long)) <= 63
    assert job_name("short") == "short"


def test_reserved_environment_variables_are_reported_with_their_path() -> None:
    spec = run({"project": {"path": "/p"}, "env": [{"name": "A"}, {"name": "MLFLOW_RUN_ID"}]})
    assert spec_problems(spec.spec) == [
        "spec.env[1].name: MLFLOW_RUN_ID is set by mlkube for every run; remove it"
    ]
