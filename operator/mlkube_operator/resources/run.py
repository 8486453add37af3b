"""The Job that runs a project Run: a pure function of the Run and the operator's settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mlkube.api.run import Run, RunSpec
from mlkube_operator.resources.render import render

MANAGED_BY = {"app.kubernetes.io/managed-by": "mlkube"}
RUN_LABEL = "mlkube.io/run"
RUN_ID_LABEL = "mlkube.io/run-id"
EXPERIMENT_LABEL = "mlkube.io/experiment"
# Pods get the label job-name=<job>, and label values are at most 63 characters.
MAX_JOB_NAME = 63


@dataclass(frozen=True)
class JobSettings:
    """What the operator adds to every run's Job (from its settings)."""

    image: str
    tracking_uri: str
    s3_endpoint: str
    s3_bucket: str
    s3_secret: str
    service_account: str = "default"


@dataclass(frozen=True)
class RunIdentity:
    """The ids a Run's Job carries (decided by the controller, not the builder)."""

    run_id: str
    experiment_id: str


# Set by the platform; a Run may not override them (see spec_problems).
RESERVED_ENV = frozenset(
    {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_RUN_ID",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_WORKSPACE",
        "MLKUBE_S3_ENDPOINT",
        "MLKUBE_S3_BUCKET",
        "MLKUBE_S3_ACCESS_KEY",
        "MLKUBE_S3_SECRET_KEY",
    }
)


def spec_problems(spec: RunSpec) -> list[str]:
    """What the schema cannot catch but would make the Job wrong, as `path: message` lines."""
    return [
        f"spec.env[{i}].name: {var.name} is set by mlkube for every run; remove it"
        for i, var in enumerate(spec.env)
        if var.name in RESERVED_ENV
    ]


def job_name(run_name: str) -> str:
    """The Job's name: the Run's name, shortened with a stable hash when too long."""
    if len(run_name) <= MAX_JOB_NAME:
        return run_name
    digest = hashlib.sha256(run_name.encode()).hexdigest()[:8]
    return f"{run_name[: MAX_JOB_NAME - 9].rstrip('-.')}-{digest}"


def runner_args(spec: RunSpec) -> list[str]:
    """Arguments of `mlkube project run` for the Run's project, entry point and parameters."""
    project = spec.project
    assert project is not None, "tracking-only runs have no Job"
    if project.uri is not None:
        args = ["--uri", project.uri]
    elif project.git is not None:
        args = ["--git", project.git.url, "--revision", project.git.revision]
        if project.git.path:
            args += ["--subdirectory", project.git.path]
    else:
        assert project.path is not None
        args = ["--path", project.path]
    args += ["--entry-point", spec.entry_point]
    for key, value in spec.parameters.items():
        args += ["-P", f"{key}={value}"]
    return args


def build_job(run: Run, ids: RunIdentity, settings: JobSettings) -> dict[str, Any]:
    """The Job manifest for ``run``."""
    spec = run.spec
    labels = {
        **MANAGED_BY,
        RUN_LABEL: run.metadata.name,
        RUN_ID_LABEL: ids.run_id,
        EXPERIMENT_LABEL: spec.experiment,
    }
    platform_env: list[dict[str, Any]] = [
        {"name": "MLFLOW_TRACKING_URI", "value": settings.tracking_uri},
        {"name": "MLFLOW_RUN_ID", "value": ids.run_id},
        {"name": "MLFLOW_EXPERIMENT_ID", "value": ids.experiment_id},
        # The run lives in this namespace: the client sends it as X-MLFLOW-WORKSPACE.
        {"name": "MLFLOW_WORKSPACE", "value": run.metadata.namespace},
        {"name": "MLKUBE_S3_ENDPOINT", "value": settings.s3_endpoint},
        {"name": "MLKUBE_S3_BUCKET", "value": settings.s3_bucket},
        {
            "name": "MLKUBE_S3_ACCESS_KEY",
            "valueFrom": {"secretKeyRef": {"name": settings.s3_secret, "key": "accessKey"}},
        },
        {
            "name": "MLKUBE_S3_SECRET_KEY",
            "valueFrom": {"secretKeyRef": {"name": settings.s3_secret, "key": "secretKey"}},
        },
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    user_env = [e.to_wire() for e in spec.env]
    return render(
        "job.yaml.j2",
        name=job_name(run.metadata.name),
        namespace=run.metadata.namespace,
        labels=labels,
        annotations={"mlkube.io/entry-point": spec.entry_point},
        run_name=run.metadata.name,
        run_uid=run.metadata.uid,
        spec=spec,
        service_account=settings.service_account,
        image=spec.image or settings.image,
        command=["mlkube", "project", "run"],
        args=runner_args(spec),
        env=platform_env + user_env,
        resources=spec.resources.to_wire() if spec.resources else None,
    )
