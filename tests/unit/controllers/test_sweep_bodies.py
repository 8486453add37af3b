"""The Runs a Sweep makes carry what `mlkube sweep` recorded on it (the project's commit and who
submitted it), so trials and the parent get mlflow.source.git.commit and mlflow.user as Runs
made by `mlkube run` do; nothing else of the Sweep's annotations travels."""

from __future__ import annotations

from typing import Any

from mlkube import layout
from mlkube.api import Run, parse
from mlkube.projects import tags
from mlkube_operator.resources.sweep import build_parent, build_trial

COMMIT = "c" * 40


def sweep(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "tpe", "namespace": "ns", "uid": "u-1"}
    if annotations is not None:
        meta["annotations"] = annotations
    template = {
        "experiment": "wine",
        "project": {"path": "/opt/mlkube/examples/sweep"},
        "parameters": {"epochs": "6"},
    }
    return {"metadata": meta, "spec": {"template": template}}


def test_trials_and_parent_inherit_commit_and_submitter() -> None:
    notes = {
        layout.GIT_COMMIT_ANNOTATION: COMMIT,
        layout.CREATED_BY_ANNOTATION: "ada",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    }
    trial = build_trial(sweep(notes), 3, {"alpha": "0.1"}, "p" * 32)
    parent = build_parent(sweep(notes))
    expected = {layout.GIT_COMMIT_ANNOTATION: COMMIT, layout.CREATED_BY_ANNOTATION: "ada"}
    assert trial["metadata"]["annotations"] == parent["metadata"]["annotations"] == expected
    assert trial["spec"]["parameters"] == {"epochs": "6", "alpha": "0.1"}
    derived = tags.defaults(
        parse(Run, {**trial, "metadata": {**trial["metadata"], "namespace": "ns"}})
    )
    assert derived["mlflow.source.git.commit"] == COMMIT
    assert derived["mlflow.user"] == "ada"


def test_a_sweep_without_them_gives_runs_without_annotations() -> None:
    assert "annotations" not in build_trial(sweep(), 0, {}, "p" * 32)["metadata"]
    assert "annotations" not in build_parent(sweep({"other": "x"}))["metadata"]
