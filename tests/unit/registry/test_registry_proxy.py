"""The artifact proxy serves registry copies (models/<model>/<version>/...) read-only, at keys
derived from a validated model name and version number."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mlkube import layout
from mlkube.layout import Owner
from mlkube.objects import MemoryObjects

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def test_registry_paths_parse_into_derived_keys() -> None:
    path = layout.parse_artifact_path("models/iris/3/sub/model.pkl")
    assert path is not None
    assert (path.owner, path.owner_id, path.version, path.rest) == (
        Owner.REGISTRY,
        "iris",
        3,
        "sub/model.pkl",
    )
    assert path.key("team-a") == "team-a/models/iris/3/sub/model.pkl"
    assert path.child("team-a/models/iris/3/sub/model.pkl", "team-a") == "sub/model.pkl"
    assert layout.parse_artifact_path("models/iris") is None
    assert layout.parse_artifact_path("models") is None
    assert layout.registry_path("churn-1a2b", 12) == "models/churn-1a2b/12"
    assert layout.registry_prefix("team-a", "iris", 1) == "team-a/models/iris/1/"


@pytest.mark.parametrize(
    "raw",
    [
        "models/Iris/1",
        "models/iris/0",
        "models/iris/one",
        "models/iris/1/../../../x",
        "models/-x/1",
    ],
)
def test_bad_registry_paths_are_refused(raw: str) -> None:
    with pytest.raises(layout.LayoutError):
        layout.parse_artifact_path(raw)


def test_listing_and_download_of_a_registry_copy(
    client: TestClient, objects: MemoryObjects
) -> None:
    objects.put("default/models/iris/1/MLmodel", b"flavors: {}\n")
    objects.put("default/models/iris/1/data/model.pkl", b"pickle")
    objects.put("other/models/iris/1/MLmodel", b"another workspace")
    listing = client.get(ARTIFACTS, params={"path": "models/iris/1"}).json()["files"]
    assert listing == [
        {"path": "MLmodel", "is_dir": False, "file_size": 12},
        {"path": "data", "is_dir": True},
    ]
    inner = client.get(ARTIFACTS, params={"path": "models/iris/1/data"}).json()["files"]
    assert inner == [{"path": "model.pkl", "is_dir": False, "file_size": 6}]
    assert client.get(f"{ARTIFACTS}/models/iris/1/data/model.pkl").content == b"pickle"
    assert client.get(f"{ARTIFACTS}/models/iris/2/MLmodel").status_code == 404
    assert client.get(ARTIFACTS, params={"path": "models/iris/2"}).json()["files"] == []


def test_registry_copies_are_read_only(client: TestClient, objects: MemoryObjects) -> None:
    objects.put("default/models/iris/1/MLmodel", b"flavors: {}\n")
    put = client.put(f"{ARTIFACTS}/models/iris/1/MLmodel", content=b"changed")
    assert put.status_code == 400
    assert put.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.delete(f"{ARTIFACTS}/models/iris/1").status_code == 400
    mpu = client.post(
        "/api/2.0/mlflow-artifacts/mpu/create/models/iris/1", json={"path": "big.bin"}
    )
    assert mpu.status_code == 400
    assert objects.get("default/models/iris/1/MLmodel") == b"flavors: {}\n"
