"""The resource models reject bad input with messages that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from mlkube.api import (
    ModelDeploymentSpec,
    ModelVersionSpec,
    Run,
    RunSpec,
    SpecError,
    parse,
)


def problems(model: Any, data: Any, prefix: str = "spec") -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse(model, data, prefix)
    return caught.value.problems


def test_run_with_two_project_sources_is_rejected() -> None:
    got = problems(RunSpec, {"project": {"uri": "s3://b/p.tar.gz", "path": "/src"}})
    assert got == ["spec.project: set exactly one of uri, git, path (got uri, path)"]


def test_run_with_no_project_source_inside_project_is_rejected() -> None:
    assert problems(RunSpec, {"project": {}}) == [
        "spec.project: set exactly one of uri, git, path (got none)"
    ]


def test_negative_backoff_limit_is_rejected() -> None:
    got = problems(RunSpec, {"backoffLimit": -1})
    assert got == ["spec.backoffLimit: input should be greater than or equal to 0, got -1"]


def test_deployment_with_version_and_alias_is_rejected() -> None:
    got = problems(
        ModelDeploymentSpec, {"model": {"name": "iris", "version": 2, "alias": "champion"}}
    )
    assert got == ["spec.model: set exactly one of version, alias, stage (got version, alias)"]


def test_invalid_kubernetes_name_is_rejected() -> None:
    got = problems(Run, {"metadata": {"name": "My_Run"}}, prefix="")
    assert len(got) == 1
    assert got[0].startswith("metadata.name: string should match pattern")
    assert "'My_Run'" in got[0]


def test_invalid_name_in_a_reference_names_the_field() -> None:
    got = problems(RunSpec, {"experiment": "Not Valid"})
    assert got[0].startswith("spec.experiment: string should match pattern")


def test_unknown_field_says_how_to_check_spelling() -> None:
    assert problems(RunSpec, {"entrypoint": "main"}) == [
        "spec.entrypoint: unknown field; check its spelling against `kubectl explain`"
    ]


def test_every_problem_is_reported_at_once() -> None:
    got = problems(RunSpec, {"backoffLimit": -1, "activeDeadlineSeconds": 0, "env": [{}]})
    assert [p.split(":")[0] for p in got] == [
        "spec.env[0].name",
        "spec.backoffLimit",
        "spec.activeDeadlineSeconds",
    ]


def test_model_version_source_must_be_a_known_scheme() -> None:
    got = problems(ModelVersionSpec, {"model": "iris", "source": "/tmp/model"})
    assert got[0].startswith("spec.source: string should match pattern")


def test_valid_run_parses_with_defaults_and_round_trips_camel_case() -> None:
    run = parse(
        Run,
        {
            "metadata": {"name": "train-1", "namespace": "ml"},
            "spec": {
                "project": {"git": {"url": "https://example.invalid/repo.git"}},
                "parameters": {"alpha": "0.5"},
                "activeDeadlineSeconds": 600,
            },
        },
    )
    assert run.spec.experiment == "default"
    assert run.spec.entry_point == "main"
    assert run.spec.project is not None
    assert run.spec.project.git is not None
    assert run.spec.project.git.revision == "HEAD"
    wire = run.to_wire()
    assert wire["spec"]["activeDeadlineSeconds"] == 600
    assert wire["spec"]["project"] == {
        "git": {"url": "https://example.invalid/repo.git", "revision": "HEAD", "path": ""}
    }


def test_autoscaling_min_above_max_is_rejected() -> None:
    got = problems(
        ModelDeploymentSpec,
        {
            "model": {"name": "iris", "alias": "champion"},
            "autoscaling": {"minReplicas": 3, "maxReplicas": 2},
        },
    )
    assert got == ["spec.autoscaling: minReplicas must not exceed maxReplicas"]


def test_env_var_with_value_and_value_from_is_rejected() -> None:
    got = problems(
        RunSpec,
        {
            "env": [
                {
                    "name": "A",
                    "value": "1",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                }
            ]
        },
    )
    assert got == ["spec.env[0]: set value or valueFrom, not both"]
