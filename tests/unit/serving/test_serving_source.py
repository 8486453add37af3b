"""Model sources: local directories, s3:// prefixes and models:/ URIs (through MLflow's REST
API), with the object store (MemoryObjects) and the tracking server as in-memory fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlkube.objects import MemoryObjects
from mlkube.serving.source import SourceError, fetch_model


class FakeTracking:
    """The MLflow REST answers fetch_model asks for; records each call."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any, dict[str, str]]] = []

    def __call__(self, method: str, url: str, body: Any, headers: dict[str, str]) -> bytes:
        self.calls.append((method, url, body, headers))
        path = url.removeprefix("http://tracking:5000/")
        answer = self.answers[path]
        return answer if isinstance(answer, bytes) else json.dumps(answer).encode()


MODEL_FILES = {"MLmodel": b"flavors: {}\n", "model.pkl": b"x", "sub/file.txt": b"y"}


def store_with_model(prefix: str) -> MemoryObjects:
    objects = {f"{prefix}/{name}": data for name, data in MODEL_FILES.items()}
    objects["ns/other/MLmodel"] = b"not this one"
    objects[f"{prefix}-sibling/MLmodel"] = b"nor this"
    store = MemoryObjects("elsewhere")  # the s3:// URI names the bucket
    for key, data in objects.items():
        store.in_bucket("mlkube").put(key, data)
    return store


def downloaded(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file()
    }


def test_a_local_directory_is_used_in_place(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    assert fetch_model(str(tmp_path), tmp_path / "cache", {}) == tmp_path
    assert fetch_model(f"file://{tmp_path}", tmp_path / "cache", {}) == tmp_path


def test_a_directory_without_mlmodel_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a model directory"):
        fetch_model(str(tmp_path), tmp_path / "cache", {})


def test_an_s3_prefix_is_downloaded(tmp_path: Path) -> None:
    store = store_with_model("ns/models/iris/1")
    target = tmp_path / "cache"
    assert fetch_model("s3://mlkube/ns/models/iris/1", target, {}, store=store) == target
    assert downloaded(target) == MODEL_FILES


def test_an_empty_prefix_and_missing_settings_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no objects under this prefix"):
        fetch_model("s3://mlkube/nothing", tmp_path, {}, store=MemoryObjects("mlkube"))
    with pytest.raises(SourceError, match="MLKUBE_S3_ENDPOINT"):
        fetch_model("s3://mlkube/x", tmp_path, {})


ENV = {"MLFLOW_TRACKING_URI": "http://tracking:5000/", "MLFLOW_TRACKING_TOKEN": "t0k"}
DOWNLOAD_URI = "api/2.0/mlflow/model-versions/get-download-uri?name=iris&version=3"


def test_a_version_uri_resolves_to_its_download_location(tmp_path: Path) -> None:
    tracking = FakeTracking({DOWNLOAD_URI: {"artifact_uri": "s3://mlkube/ns/models/iris/3"}})
    store = store_with_model("ns/models/iris/3")
    fetch_model("models:/iris/3", tmp_path / "m", ENV, store=store, transport=tracking)
    assert downloaded(tmp_path / "m") == MODEL_FILES
    (method, _, _, headers) = tracking.calls[0]
    assert (method, headers["Authorization"]) == ("GET", "Bearer t0k")


def test_an_alias_is_followed(tmp_path: Path) -> None:
    tracking = FakeTracking(
        {
            "api/2.0/mlflow/registered-models/alias?name=iris&alias=champion": {
                "model_version": {"name": "iris", "version": "3"}
            },
            DOWNLOAD_URI: {"artifact_uri": "s3://mlkube/ns/models/iris/3"},
        }
    )
    env = {"MLFLOW_TRACKING_URI": "http://tracking:5000", "MLFLOW_WORKSPACE": "team-a"}
    store = store_with_model("ns/models/iris/3")
    fetch_model("models:/iris@champion", tmp_path / "m", env, store=store, transport=tracking)
    assert [c[1].split("?")[0].rsplit("/", 1)[1] for c in tracking.calls] == [
        "alias",
        "get-download-uri",
    ]
    assert tracking.calls[0][3] == {"X-MLFLOW-WORKSPACE": "team-a"}


def test_a_stage_takes_its_latest_version(tmp_path: Path) -> None:
    tracking = FakeTracking(
        {
            "api/2.0/mlflow/registered-models/get-latest-versions": {
                "model_versions": [{"version": "2"}, {"version": "3"}]
            },
            DOWNLOAD_URI: {"artifact_uri": "s3://mlkube/ns/models/iris/3"},
        }
    )
    store = store_with_model("ns/models/iris/3")
    fetch_model("models:/iris/Production", tmp_path / "m", ENV, store=store, transport=tracking)
    assert tracking.calls[0][:3] == (
        "POST",
        "http://tracking:5000/api/2.0/mlflow/registered-models/get-latest-versions",
        {"name": "iris", "stages": ["Production"]},
    )


def test_proxied_artifacts_are_listed_and_downloaded(tmp_path: Path) -> None:
    listing = "api/2.0/mlflow-artifacts/artifacts?path="
    tracking = FakeTracking(
        {
            DOWNLOAD_URI: {"artifact_uri": "mlflow-artifacts:/1/models/m-1/artifacts"},
            f"{listing}1%2Fmodels%2Fm-1%2Fartifacts": {
                "files": [
                    {"path": "MLmodel", "is_dir": False},
                    {"path": "sub", "is_dir": True},
                ]
            },
            f"{listing}1%2Fmodels%2Fm-1%2Fartifacts%2Fsub": {
                "files": [{"path": "file.txt", "is_dir": False}]
            },
            "api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts/MLmodel": b"flavors: {}\n",
            "api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts/sub/file.txt": b"y",
        }
    )
    fetch_model("models:/iris/3", tmp_path / "m", ENV, transport=tracking)
    assert downloaded(tmp_path / "m") == {"MLmodel": b"flavors: {}\n", "sub/file.txt": b"y"}


def test_unsafe_artifact_names_are_refused(tmp_path: Path) -> None:
    tracking = FakeTracking(
        {
            DOWNLOAD_URI: {"artifact_uri": "mlflow-artifacts:/x"},
            "api/2.0/mlflow-artifacts/artifacts?path=x": {
                "files": [{"path": "..", "is_dir": True}]
            },
        }
    )
    with pytest.raises(SourceError, match="refusing the artifact name"):
        fetch_model("models:/iris/3", tmp_path / "m", ENV, transport=tracking)


@pytest.mark.parametrize(
    ("uri", "env", "message"),
    [
        ("models:/iris/3", {}, "set MLFLOW_TRACKING_URI"),
        ("models:/iris/3", {"MLFLOW_TRACKING_URI": "sqlite:///x.db"}, "set MLFLOW_TRACKING_URI"),
        ("models:/", ENV, "expected models:/<name>/<version>"),
        ("models:/a/b/c", ENV, "expected models:/<name>/<version>"),
    ],
)
def test_bad_model_uris(tmp_path: Path, uri: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(SourceError, match=None) as err:
        fetch_model(uri, tmp_path, env, transport=FakeTracking({}))
    assert message in str(err.value)


def test_a_registry_copy_comes_through_the_proxy_with_the_pods_refreshed_token(
    tmp_path: Path,
) -> None:
    """What a ModelDeployment's pod does: no object-store credential, only its token file."""
    token = tmp_path / "token"
    token.write_text("first\n")
    listing = "api/2.0/mlflow-artifacts/artifacts?path="
    tracking = FakeTracking(
        {
            f"{listing}models%2Firis%2F3": {"files": [{"path": "MLmodel", "is_dir": False}]},
            "api/2.0/mlflow-artifacts/artifacts/models/iris/3/MLmodel": b"flavors: {}\n",
        }
    )
    env = {
        "MLFLOW_TRACKING_URI": "http://tracking:5000",
        "MLFLOW_WORKSPACE": "team-a",
        "MLKUBE_TOKEN_FILE": str(token),
    }
    fetch_model("mlflow-artifacts:/models/iris/3", tmp_path / "m", env, transport=tracking)
    assert downloaded(tmp_path / "m") == {"MLmodel": b"flavors: {}\n"}
    assert {h["Authorization"] for _, _, _, h in tracking.calls} == {"Bearer first"}
    assert {h["X-MLFLOW-WORKSPACE"] for _, _, _, h in tracking.calls} == {"team-a"}
    token.write_text("second\n")  # the kubelet rotated it
    fetch_model("mlflow-artifacts:/models/iris/3", tmp_path / "n", env, transport=tracking)
    assert tracking.calls[-1][3]["Authorization"] == "Bearer second"
