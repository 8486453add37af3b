"""The tags a project Run shows: those `mlflow run` sets, named as the installed mlflow names them,
and mlkube's Kubernetes facts (issue 14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.entities import SourceType
from mlflow.utils import mlflow_tags

from mlkube import layout
from mlkube.api.errors import parse
from mlkube.api.run import Run
from mlkube.projects import facts, tags
from mlkube.projects.mlproject import load_project

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ARCHIVE = "mlflow-artifacts:/projects/" + "a" * 64 + ".tar.gz"


def run(
    project: dict[str, Any] | None,
    status: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> Run:
    body: dict[str, Any] = {
        "metadata": {"name": "r", "namespace": "ml", "annotations": annotations or {}},
        "spec": {**({"project": project} if project else {}), **spec},
        "status": status or {},
    }
    return parse(Run, body)


def test_the_names_are_mlflows() -> None:
    assert tags.SOURCE_TYPE == mlflow_tags.MLFLOW_SOURCE_TYPE
    assert tags.SOURCE_NAME == mlflow_tags.MLFLOW_SOURCE_NAME
    assert facts.GIT_COMMIT == mlflow_tags.MLFLOW_GIT_COMMIT
    assert tags.GIT_REPO_URL == mlflow_tags.MLFLOW_GIT_REPO_URL
    assert tags.ENTRY_POINT == mlflow_tags.MLFLOW_PROJECT_ENTRY_POINT
    assert facts.ENV == mlflow_tags.MLFLOW_PROJECT_ENV
    assert tags.BACKEND == mlflow_tags.MLFLOW_PROJECT_BACKEND
    assert tags.USER == mlflow_tags.MLFLOW_USER
    assert SourceType.to_string(SourceType.PROJECT) == tags.PROJECT


def test_a_git_project_names_its_url_subdirectory_and_pinned_commit() -> None:
    got = tags.defaults(
        run({"git": {"url": "https://g/x.git", "revision": COMMIT, "path": "sub"}}, entryPoint="e")
    )
    assert got == {
        "mlflow.source.type": "PROJECT",
        "mlflow.source.name": "https://g/x.git#sub",  # mlflow's subdirectory syntax
        "mlflow.source.git.repoURL": "https://g/x.git",
        "mlflow.source.git.commit": COMMIT,
        "mlflow.project.entryPoint": "e",
        "mlflow.project.backend": "kubernetes",
    }
    # A branch is not a commit: the init container, which resolves it, sets the tag.
    assert "mlflow.source.git.commit" not in tags.defaults(
        run({"git": {"url": "https://g/x.git", "revision": "main"}})
    )


def test_an_archive_takes_the_commit_and_user_mlkube_run_recorded() -> None:
    annotations = {layout.GIT_COMMIT_ANNOTATION: COMMIT, layout.CREATED_BY_ANNOTATION: "ada"}
    got = tags.defaults(run({"uri": ARCHIVE}, annotations=annotations))
    assert got["mlflow.source.name"] == ARCHIVE
    assert got["mlflow.source.git.commit"] == COMMIT
    assert got["mlflow.user"] == "ada"
    assert "mlflow.source.git.repoURL" not in got
    bad = {layout.GIT_COMMIT_ANNOTATION: "not a commit"}
    assert "mlflow.source.git.commit" not in tags.defaults(run({"uri": ARCHIVE}, annotations=bad))


def test_kubernetes_facts_follow_the_status_and_win() -> None:
    status = {"phase": "Running", "jobName": "r", "image": "rt:1", "tags": {}}
    project = run({"path": "/p"}, status)
    logged = {"mlkube.kubernetes.phase": "stale", "mlflow.source.name": "mine", "k": "v"}
    got = tags.run_tags(project, logged)
    assert got["mlkube.kubernetes.namespace"] == "ml"
    assert got["mlkube.kubernetes.job"] == "r"
    assert got["mlkube.kubernetes.image"] == "rt:1"
    assert got["mlkube.kubernetes.phase"] == "Running"  # a fact, not a client's claim
    assert got["mlflow.source.name"] == "mine"  # a default: what a client set stays
    assert got["k"] == "v"
    pending = tags.run_tags(run({"path": "/p"}, {"phase": "Pending"}), {})
    assert "mlkube.kubernetes.job" not in pending
    assert "mlkube.kubernetes.image" not in pending


def test_a_tracking_only_run_gets_none() -> None:
    assert tags.run_tags(run(None, {"phase": "Running"}), {"k": "v"}) == {"k": "v"}


def test_the_environment_is_what_the_mlproject_declares(tmp_path: Path) -> None:
    cases = {
        "python_env: python_env.yaml\n": "virtualenv",
        "conda_env: conda.yaml\n": "conda",
        "docker_env:\n  image: python:3.12\n": "docker",
        "": "local",
    }
    for i, (line, expected) in enumerate(cases.items()):
        directory = tmp_path / str(i)
        directory.mkdir()
        for name in ("python_env.yaml", "conda.yaml"):
            (directory / name).write_text("dependencies: []\n")
        (directory / "MLproject").write_text(
            f"name: p\n{line}entry_points:\n  main:\n    command: python t.py\n"
        )
        assert facts.environment(load_project(directory)) == expected, line
