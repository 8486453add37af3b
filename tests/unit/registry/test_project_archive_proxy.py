"""Project archives go through the artifact proxy (issue 13): ``projects/<sha256>.tar.gz`` is
stored at ``<namespace>/projects/<sha256>.tar.gz``, may be read and uploaded (again), never
deleted, and nothing else lives under ``projects/``."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mlkube import layout
from mlkube.layout import Owner
from mlkube.objects import MemoryObjects

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
SHA = "ab" * 32


def test_a_project_archive_path_parses_into_its_namespaced_key() -> None:
    path = layout.parse_artifact_path(f"projects/{SHA}.tar.gz")
    assert path is not None
    assert (path.owner, path.owner_id, path.rest) == (Owner.PROJECT, SHA, f"{SHA}.tar.gz")
    assert path.key("team-a") == f"team-a/projects/{SHA}.tar.gz"
    assert layout.project_archive_uri(SHA) == f"mlflow-artifacts:/projects/{SHA}.tar.gz"
    assert layout.parse_artifact_path("projects") is None


@pytest.mark.parametrize(
    "raw",
    [
        f"projects/{SHA.upper()}.tar.gz",
        f"projects/{SHA[:-1]}.tar.gz",
        f"projects/{SHA}.tar",
        f"projects/{SHA}.tar.gz/inner",
        f"projects/sub/{SHA}.tar.gz",
        "projects/x.tar.gz",
        f"projects/../{SHA}.tar.gz",
    ],
)
def test_anything_else_under_projects_is_refused(raw: str) -> None:
    with pytest.raises(layout.LayoutError):
        layout.parse_artifact_path(raw)


def test_an_archive_is_uploaded_read_and_uploaded_again_in_its_workspace(
    client: TestClient, objects: MemoryObjects
) -> None:
    url = f"{ARTIFACTS}/projects/{SHA}.tar.gz"
    team = {"X-MLFLOW-WORKSPACE": "team-a"}
    assert client.put(url, content=b"archive", headers=team).status_code == 200
    assert client.put(url, content=b"archive", headers=team).status_code == 200
    assert objects.get(f"team-a/projects/{SHA}.tar.gz") == b"archive"
    assert client.get(url, headers=team).content == b"archive"
    assert client.get(url, headers={"X-MLFLOW-WORKSPACE": "team-b"}).status_code == 404


def test_an_archive_is_never_deleted_through_the_proxy(
    client: TestClient, objects: MemoryObjects
) -> None:
    objects.put(f"default/projects/{SHA}.tar.gz", b"archive")
    answer = client.delete(f"{ARTIFACTS}/projects/{SHA}.tar.gz")
    assert answer.status_code == 400
    assert "archives are kept" in answer.json()["message"]
    assert objects.get(f"default/projects/{SHA}.tar.gz") == b"archive"


def test_other_paths_under_projects_are_refused_for_every_method(client: TestClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = client.request(method, f"{ARTIFACTS}/projects/notes.txt", content=b"x")
        assert answer.status_code == 400, method
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
