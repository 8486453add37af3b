"""Project archives through the tracking server's artifact proxy (issue 13): `mlkube run`'s
upload carries the user's token and the Run's namespace; the init container's fetch carries the
pod's token file and workspace, and refuses bytes that do not hash to the archive's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.projects.conftest import Recorder

from mlkube.cli import main
from mlkube.projects.archive import upload

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts/"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "MLproject").write_text("name: p\nentry_points:\n  main: {command: 'true'}\n")
    (root / "train.py").write_text("print('hi')\n")
    return root


def test_an_uploaded_archive_is_fetched_by_the_init_container(
    recorder: Recorder, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = upload(
        project, {"MLFLOW_TRACKING_URI": recorder.url, "MLFLOW_TRACKING_TOKEN": "user"}, "team-a"
    )
    sha = uri.removeprefix("mlflow-artifacts:/projects/").removesuffix(".tar.gz")
    assert uri == f"mlflow-artifacts:/projects/{sha}.tar.gz"
    assert len(sha) == 64
    method, path, headers = recorder.requests[-1]
    assert (method, path) == ("PUT", f"{ARTIFACTS}projects/{sha}.tar.gz")
    assert headers["authorization"] == "Bearer user"
    assert headers["x-mlflow-workspace"] == "team-a"

    token = tmp_path / "token"
    token.write_text("pod-token\n")
    for name, value in {
        "MLFLOW_TRACKING_URI": recorder.url,
        "MLFLOW_WORKSPACE": "team-a",
        "MLKUBE_TOKEN_FILE": str(token),
        "MLKUBE_TERMINATION_LOG": str(tmp_path / "message"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    into = tmp_path / "mlkube"
    assert main(["project", "prepare", "--into", str(into), "--uri", uri]) == 0
    assert (into / "project" / "train.py").read_text() == "print('hi')\n"
    assert sorted(p.name for p in into.iterdir()) == ["project", "python", "runner.pyz"]
    method, path, headers = recorder.requests[-1]
    assert (method, path) == ("GET", f"{ARTIFACTS}projects/{sha}.tar.gz")
    assert headers["authorization"] == "Bearer pod-token"
    assert headers["x-mlflow-workspace"] == "team-a"

    # Someone with write access to the namespace replaced the bytes: the Run refuses them.
    recorder.stored[f"{ARTIFACTS}projects/{sha}.tar.gz"] += b"tampered"
    assert main(["project", "prepare", "--into", str(tmp_path / "again"), "--uri", uri]) == 2
    message = (tmp_path / "message").read_text()
    assert message.startswith(f"{uri}: the archive's sha256 is ")


def test_a_missing_archive_names_the_call(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", recorder.url)
    monkeypatch.setenv("MLKUBE_TERMINATION_LOG", str(tmp_path / "message"))
    uri = f"mlflow-artifacts:/projects/{'0' * 64}.tar.gz"
    assert main(["project", "prepare", "--into", str(tmp_path / "m"), "--uri", uri]) == 2
    assert "HTTP 404" in (tmp_path / "message").read_text()
