"""Issue 7, the operator's half: ModelVersions applied with kubectl are numbered, copied into the
registry and checked; registered models go only after their versions."""

from __future__ import annotations

import io
import json
import subprocess
import uuid

import pytest
from minio import Minio

from e2e.cluster.cluster import LocalCluster
from e2e.cluster.waiting import eventually

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
signature:
  inputs: '[{"type": "double", "name": "x"}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
"""


def s3(cluster: LocalCluster) -> Minio:
    return Minio(
        cluster.s3.endpoint.removeprefix("http://"),
        access_key=cluster.s3.access_key,
        secret_key=cluster.s3.secret_key,
        secure=False,
    )


def put(client: Minio, key: str, data: bytes) -> None:
    client.put_object("mlkube", key, io.BytesIO(data), length=len(data))


def phase_of(cluster: LocalCluster, namespace: str, name: str) -> str | None:
    status = cluster.get_json(namespace, "modelversion", name).get("status") or {}
    phase = status.get("phase")
    return str(phase) if phase in {"Ready", "FailedRegistration"} else None


@pytest.fixture
def run_with_model(operator: LocalCluster, namespace: str) -> str:
    """A tracking-only Run in the default experiment whose artifacts hold model/ (MLmodel +
    model.pkl); returns its run id."""
    run_id = uuid.uuid4().hex
    operator.apply_objects(
        namespace,
        {"kind": "Experiment", "metadata": {"name": "default"}},
        {"kind": "Run", "metadata": {"name": "trained"}, "spec": {}},
    )
    operator.kubectl(
        "patch",
        "run",
        "trained",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"runId": run_id, "phase": "Succeeded"}}),
    )
    eventually(
        lambda: (operator.get_json(namespace, "experiment", "default").get("status") or {}).get(
            "experimentId"
        ),
        timeout=30,
        what="the default experiment's id",
    )
    client = s3(operator)
    base = f"{namespace}/experiments/0/{run_id}/artifacts"
    put(client, f"{base}/model/MLmodel", MLMODEL.encode())
    put(client, f"{base}/model/model.pkl", b"\x80\x04pickled")
    put(client, f"{base}/notes/readme.txt", b"no model here")
    return run_id


def test_a_version_applied_by_hand_is_numbered_copied_and_checked(
    operator: LocalCluster, namespace: str, run_with_model: str
) -> None:
    operator.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "iris"}, "spec": {"description": "x"}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": "iris-a"},
            "spec": {"model": "iris", "source": f"runs:/{run_with_model}/model"},
        },
    )
    eventually(lambda: phase_of(operator, namespace, "iris-a"), timeout=60, what="registration")
    status = operator.get_json(namespace, "modelversion", "iris-a")["status"]
    assert status["phase"] == "Ready", status
    assert status["version"] == 1
    assert status["flavors"] == ["python_function", "sklearn"]
    assert status["signature"]["inputs"] == '[{"type": "double", "name": "x"}]'
    assert status["storageUri"] == f"s3://mlkube/{namespace}/models/iris/1"
    copied = s3(operator).get_object("mlkube", f"{namespace}/models/iris/1/MLmodel")
    assert copied.read().decode() == MLMODEL
    copied.close()
    table = operator.kubectl("get", "modelversions", "-n", namespace)
    header, row = table.splitlines()
    assert header.split()[:5] == ["NAME", "MODEL", "VERSION", "STAGE", "PHASE"]
    assert row.split()[:5] == ["iris-a", "iris", "1", "None", "Ready"]


def test_twenty_concurrent_registrations_get_versions_one_to_twenty(
    operator: LocalCluster, namespace: str, run_with_model: str
) -> None:
    operator.apply_objects(namespace, {"kind": "RegisteredModel", "metadata": {"name": "busy"}})
    versions = [
        {
            "kind": "ModelVersion",
            "metadata": {"name": f"busy-{i}"},
            "spec": {"model": "busy", "source": f"runs:/{run_with_model}/model"},
        }
        for i in range(20)
    ]
    operator.apply_objects(namespace, *versions)

    def numbers() -> list[int] | None:
        items = json.loads(operator.kubectl("get", "modelversions", "-n", namespace, "-o", "json"))
        found = [
            i["status"]["version"]
            for i in items["items"]
            if i["spec"]["model"] == "busy" and (i.get("status") or {}).get("phase") == "Ready"
        ]
        return found if len(found) == 20 else None

    assert sorted(eventually(numbers, timeout=120, what="20 registrations")) == list(range(1, 21))
    model = operator.get_json(namespace, "registeredmodel", "busy")
    assert model["status"]["latestVersion"] == 20


def test_a_source_without_mlmodel_fails_saying_so(
    operator: LocalCluster, namespace: str, run_with_model: str
) -> None:
    operator.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "notes"}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": "notes-1"},
            "spec": {"model": "notes", "source": f"runs:/{run_with_model}/notes"},
        },
    )
    eventually(lambda: phase_of(operator, namespace, "notes-1"), timeout=60, what="registration")
    status = operator.get_json(namespace, "modelversion", "notes-1")["status"]
    assert status["phase"] == "FailedRegistration"
    assert status["message"] == (
        f"no MLmodel file at runs:/{run_with_model}/notes: the source must be an MLflow model "
        "directory (found 1 other files)"
    )
    events = operator.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=notes-1"
    )
    assert "FailedRegistration" in events


def test_a_version_waits_for_its_registered_model(
    operator: LocalCluster, namespace: str, run_with_model: str
) -> None:
    operator.apply_objects(
        namespace,
        {
            "kind": "ModelVersion",
            "metadata": {"name": "early-1"},
            "spec": {"model": "early", "source": f"runs:/{run_with_model}/model"},
        },
    )
    eventually(
        lambda: (
            "does not exist"
            in str(
                (operator.get_json(namespace, "modelversion", "early-1").get("status") or {}).get(
                    "message"
                )
            )
        ),
        timeout=30,
        what="a message about the missing RegisteredModel",
    )
    operator.apply_objects(namespace, {"kind": "RegisteredModel", "metadata": {"name": "early"}})
    eventually(lambda: phase_of(operator, namespace, "early-1"), timeout=60, what="registration")
    assert operator.get_json(namespace, "modelversion", "early-1")["status"]["phase"] == "Ready"


def test_a_model_with_versions_goes_only_with_them(
    operator: LocalCluster, namespace: str, run_with_model: str
) -> None:
    operator.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "old"}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": "old-1"},
            "spec": {"model": "old", "source": f"runs:/{run_with_model}/model"},
        },
    )
    eventually(lambda: phase_of(operator, namespace, "old-1"), timeout=60, what="registration")
    operator.kubectl("delete", "registeredmodel", "old", "-n", namespace, "--wait=false")
    model = operator.get_json(namespace, "registeredmodel", "old")
    assert model["metadata"].get("deletionTimestamp")  # held by the finalizer
    operator.kubectl("delete", "modelversions", "-n", namespace, "-l", "mlkube.io/model=old")

    def gone() -> bool:
        result = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(operator.kubeconfig),
                "get",
                "registeredmodel",
                "old",
                "-n",
                namespace,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return result.returncode != 0 and "NotFound" in result.stderr

    eventually(gone, timeout=60, what="the registered model to go")
    leftover = list(
        s3(operator).list_objects("mlkube", prefix=f"{namespace}/models/old/", recursive=True)
    )
    assert leftover == []


def test_a_model_logged_by_mlflow_registers_from_its_runs_uri(
    operator: LocalCluster, namespace: str, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow 3 keeps a model logged in a run as a logged model: runs:/<id>/model finds it."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression

    monkeypatch.setenv("MLFLOW_WORKSPACE", namespace)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("registry-e2e")
    features = np.arange(20, dtype=float).reshape(10, 2)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            LinearRegression().fit(features, features.sum(axis=1)), name="model"
        )
    operator.apply_objects(
        namespace,
        {"kind": "RegisteredModel", "metadata": {"name": "linear"}},
        {
            "kind": "ModelVersion",
            "metadata": {"name": "linear-1"},
            "spec": {"model": "linear", "source": f"runs:/{run.info.run_id}/model"},
        },
    )
    eventually(lambda: phase_of(operator, namespace, "linear-1"), timeout=60, what="registration")
    status = operator.get_json(namespace, "modelversion", "linear-1")["status"]
    assert status["phase"] == "Ready", status
    assert "sklearn" in status["flavors"]
