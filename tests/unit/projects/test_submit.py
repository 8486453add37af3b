"""`mlkube run` records what only the laptop knows: the commit a packed directory came from and
who the API server says the user is (issue 14: mlflow.source.git.commit, mlflow.user)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlkube import layout
from mlkube.client.submit import run_body
from mlkube.projects.facts import git_commit


def git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_directory_in_a_checkout_names_its_head(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet")
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: p\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "m")
    assert git_commit(project) == git(tmp_path, "rev-parse", "HEAD")


def test_a_linked_worktree_names_its_own_head(tmp_path: Path) -> None:
    # A worktree's .git is a file naming its git dir; its branch lives in the common dir.
    main = tmp_path / "main"
    main.mkdir()
    git(main, "init", "--quiet")
    (main / "MLproject").write_text("name: p\n")
    git(main, "add", ".")
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "one")
    git(main, "worktree", "add", "--quiet", str(tmp_path / "wt"), "-b", "side")
    wt = tmp_path / "wt"
    (wt / "train.py").write_text("")
    git(wt, "add", ".")
    git(wt, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "two")
    git(main, "pack-refs", "--all")  # the branch now only in packed-refs of the common dir
    assert git_commit(wt) == git(wt, "rev-parse", "HEAD") != git(main, "rev-parse", "HEAD")


def test_a_directory_outside_git_names_none(tmp_path: Path) -> None:
    # GIT_CEILING_DIRECTORIES is not needed: tmp_path is under /tmp, in no checkout.
    assert git_commit(tmp_path) is None


def test_the_run_carries_the_annotations() -> None:
    notes = {layout.GIT_COMMIT_ANNOTATION: "a" * 40, layout.CREATED_BY_ANNOTATION: "ada"}
    body = run_body(None, "p", {"project": {"path": "/p"}}, notes)
    assert body["metadata"] == {"generateName": "p-", "annotations": notes}
    assert "annotations" not in run_body("r", "p", {"project": {"path": "/p"}})["metadata"]
