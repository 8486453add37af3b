"""`mlkube project prepare` (the init container of a Run's Job) and `mlkube project run`."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from mlkube import __version__
from mlkube.cli import main
from mlkube.projects.bundle import runner_bytes


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A local git repository with the project in sub/ at tag v1."""
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "MLproject").write_text(
        "name: from-git\nentry_points:\n  main: {command: 'echo hello > out.txt && cat out.txt'}\n"
    )

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "--quiet")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "p")
    git("tag", "v1")
    return repo


@pytest.fixture
def message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "termination-log"
    monkeypatch.setenv("MLKUBE_TERMINATION_LOG", str(path))
    return path


def test_a_path_project_gets_only_the_runner_and_the_auth_plugin(
    tmp_path: Path, message: Path
) -> None:
    into = tmp_path / "mlkube"
    assert main(["project", "prepare", "--into", str(into), "--path", "/opt/project"]) == 0
    assert sorted(p.name for p in into.iterdir()) == ["python", "runner.pyz"]
    plugin = into / "python"
    assert sorted(p.name for p in plugin.rglob("*")) == [
        "METADATA",
        "entry_points.txt",
        f"mlkube_auth-{__version__}.dist-info",
        "mlkube_auth.py",
    ]
    entry_points = next(plugin.glob("*.dist-info")) / "entry_points.txt"
    assert entry_points.read_text() == (
        "[mlflow.request_auth_provider]\nmlkube = mlkube_auth:MlkubeAuthProvider\n"
    )
    assert (into / "runner.pyz").read_bytes() == runner_bytes()
    assert not message.exists()


def test_a_git_project_is_checked_out_and_writable_by_any_user(
    tmp_path: Path, repository: Path, message: Path
) -> None:
    into = tmp_path / "mlkube"
    args = ["--git", str(repository), "--revision", "v1", "--subdirectory", "sub"]
    assert main(["project", "prepare", "--into", str(into), *args]) == 0
    project = into / "project" / "sub"
    assert (project / "MLproject").is_file()
    # The Run's image may run as another uid than the init container's 10001.
    assert stat.S_IMODE(project.stat().st_mode) == 0o777
    assert stat.S_IMODE((project / "MLproject").stat().st_mode) & 0o666 == 0o666


def test_a_missing_subdirectory_is_reported(
    tmp_path: Path, repository: Path, message: Path
) -> None:
    args = ["--git", str(repository), "--revision", "v1", "--subdirectory", "nope"]
    assert main(["project", "prepare", "--into", str(tmp_path / "m"), *args]) == 2
    assert message.read_text().strip() == (
        "the repository has no directory 'nope' at revision 'v1'"
    )


def test_an_s3_archive_without_the_runs_own_credentials_is_reported(
    tmp_path: Path, message: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MLKUBE_S3_ENDPOINT", "MLKUBE_S3_ACCESS_KEY", "MLKUBE_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    uri = "s3://mlkube/ml/projects/abc.tar.gz"
    assert main(["project", "prepare", "--into", str(tmp_path / "m"), "--uri", uri]) == 2
    assert message.read_text().startswith("object storage is not configured")


def test_project_run_fetches_and_runs_here(
    repository: Path, message: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    args = ["--git", str(repository), "--revision", "v1", "--subdirectory", "sub"]
    assert main(["project", "run", *args]) == 0
    out = capfd.readouterr().out
    assert "[mlkube] from-git:main $ echo hello > out.txt && cat out.txt" in out
    assert "hello" in out
