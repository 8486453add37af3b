"""The Job that runs a project Run: a pure function of the Run and the operator's settings.

The Run's image needs only python3 (and bash): an init container in mlkube's own image runs
`mlkube project prepare`, which writes the runner zipapp, and the project when it comes from
object storage or git, into an emptyDir at /mlkube; the main container, the Run's image, runs
`python3 /mlkube/runner.pyz` (see mlkube.projects.prepare).

The pod holds no object-store credential and, unless the Run asks
(spec.automountServiceAccountToken), no Kubernetes API token: both containers get the
ServiceAccount's tracking-server token (resources.identity), which the init container uses to
fetch an uploaded project and the Run's mlflow client through the "mlkube" auth plugin (issue 13).
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Any

from mlkube import layout
from mlkube.api.run import NOT_FOR_PREPARE, Run, RunSpec
from mlkube.auth import TOKEN_FILE_ENV
from mlkube.projects.prepare import AUTH_PLUGIN, PROJECT, RUNNER
from mlkube_operator.resources import distributed
from mlkube_operator.resources.identity import (
    RUN_SERVICE_ACCOUNT,
    token_env,
    token_mount,
    token_volume,
)
from mlkube_operator.resources.render import render

EXPERIMENT_LABEL = layout.EXPERIMENT_LABEL
# Pods get the label job-name=<job>, and label values are at most 63 characters.
MAX_JOB_NAME = 63


# The volume the init container and the main container share.
SHARED_DIR = "/mlkube"
# The operator's CA bundle, kept in every namespace with runs (controllers.context).
CA_BUNDLE_CONFIGMAP = "mlkube-ca-bundle"
CA_BUNDLE_KEY = "ca.crt"
CA_BUNDLE_DIR = "/etc/mlkube/ca"
# Where Python (ssl, requests, pip) and git look for CA certificates. Not reserved: a Run's own
# spec.env entry with one of these names wins, and the platform's is left out.
CA_BUNDLE_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "GIT_SSL_CAINFO")
# Run pods may run as root (users' images do), but never gain privileges or keep capabilities.
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}
# mlkube's image runs as this user (images/mlkube); named here so the kubelet can check it.
MLKUBE_UID = 10001


@dataclass(frozen=True)
class JobSettings:
    """What the operator adds to every run's Job (from its settings)."""

    image: str
    tracking_uri: str
    runner_image: str
    service_account: str = RUN_SERVICE_ACCOUNT
    ca_bundle: bool = False  # mount CA_BUNDLE_CONFIGMAP and point the CA variables at it


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
        "MLFLOW_TRACKING_AUTH",
        TOKEN_FILE_ENV,
    }
)


def spec_problems(run: Run) -> list[str]:
    """What the schema cannot catch but would make the Job wrong, as `path: message` lines."""
    reserved = [
        f"spec.env[{i}].name: {var.name} is set by mlkube for every run; remove it"
        for i, var in enumerate(run.spec.env)
        if var.name in RESERVED_ENV
    ]
    return reserved + distributed.problems(run)


def job_name(run_name: str) -> str:
    """The Job's name: the Run's name, shortened with a stable hash when too long."""
    if len(run_name) <= MAX_JOB_NAME:
        return run_name
    digest = hashlib.sha256(run_name.encode()).hexdigest()[:8]
    return f"{run_name[: MAX_JOB_NAME - 9].rstrip('-.')}-{digest}"


def prepare_args(spec: RunSpec) -> list[str]:
    """Arguments of `mlkube project prepare` (the init container) for the Run's project."""
    project = spec.project
    assert project is not None, "tracking-only runs have no Job"
    args = ["--into", SHARED_DIR]
    if project.uri is not None:
        return [*args, "--uri", project.uri]
    if project.git is not None:
        args += ["--git", project.git.url, "--revision", project.git.revision]
        return args + (["--subdirectory", project.git.path] if project.git.path else [])
    assert project.path is not None
    return [*args, "--path", project.path]


def project_directory(spec: RunSpec) -> str:
    """Where the main container finds the project: fetched into the shared volume, or in the
    image."""
    project = spec.project
    assert project is not None, "tracking-only runs have no Job"
    if project.path is not None:
        return project.path
    fetched = posixpath.join(SHARED_DIR, PROJECT)
    return (
        posixpath.join(fetched, project.git.path) if project.git and project.git.path else fetched
    )


def runner_args(spec: RunSpec) -> list[str]:
    """Arguments of the runner (the main container) for the entry point and its parameters."""
    args = ["--path", project_directory(spec), "--workdir", SHARED_DIR]
    args += ["--auth-plugin", posixpath.join(SHARED_DIR, AUTH_PLUGIN)]
    args += ["--entry-point", spec.entry_point]
    for key, value in spec.parameters.items():
        args += ["-P", f"{key}={value}"]
    # The runner reads its rank from RANK only when told the run has several.
    return args + (["--workers", str(spec.workers)] if distributed.distributed(spec) else [])


def ca_bundle_env(user_env: set[str]) -> list[dict[str, Any]]:
    path = posixpath.join(CA_BUNDLE_DIR, CA_BUNDLE_KEY)
    return [{"name": name, "value": path} for name in CA_BUNDLE_ENV if name not in user_env]


def build_ca_bundle(pem: str) -> dict[str, Any]:
    """The ConfigMap that holds the operator's CA bundle in a namespace with runs."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CA_BUNDLE_CONFIGMAP, "labels": dict(layout.MANAGED_BY)},
        "data": {CA_BUNDLE_KEY: pem},
    }


def build_network_policy(namespace: str, run_name: str, run_uid: str) -> dict[str, Any]:
    """A Run's pods take connections from pods of the same Run only (issue 13): its code serves
    nothing to anyone else."""
    selector = {layout.RUN_LABEL: run_name}
    return render(
        "run-networkpolicy.yaml.j2",
        name=job_name(run_name),
        namespace=namespace,
        labels={**layout.MANAGED_BY, **selector},
        run_name=run_name,
        run_uid=run_uid,
        selector=selector,
    )


MAIN_CONTAINER = "main"  # the Run's own image (job.yaml.j2)
PREPARE_CONTAINER = "prepare"  # the init container, mlkube's image (job.yaml.j2)


def run_image(run: Run, settings: JobSettings) -> str:
    """The image of the Run's main container: its spec.image, else the operator's default."""
    return run.spec.image or settings.image


def build_job(run: Run, ids: RunIdentity, settings: JobSettings) -> dict[str, Any]:
    """The Job manifest for ``run``."""
    spec = run.spec
    labels = {
        **layout.MANAGED_BY,
        layout.RUN_LABEL: run.metadata.name,
        layout.RUN_ID_LABEL: ids.run_id,
        EXPERIMENT_LABEL: spec.experiment,
    }
    platform_env: list[dict[str, Any]] = [
        {"name": "MLFLOW_TRACKING_URI", "value": settings.tracking_uri},
        {"name": "MLFLOW_RUN_ID", "value": ids.run_id},
        {"name": "MLFLOW_EXPERIMENT_ID", "value": ids.experiment_id},
        # The run lives in this namespace: the client sends it as X-MLFLOW-WORKSPACE.
        {"name": "MLFLOW_WORKSPACE", "value": run.metadata.namespace},
        token_env(),
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    user_env = [e.to_wire() for e in spec.env]
    if settings.ca_bundle:
        platform_env += ca_bundle_env({e.name for e in spec.env})
    name = job_name(run.metadata.name)
    ranks = distributed.distributed(spec)
    return render(
        "job.yaml.j2",
        name=name,
        namespace=run.metadata.namespace,
        labels=labels,
        annotations={layout.ENTRY_POINT_ANNOTATION: spec.entry_point},
        pod_finalizer=layout.POD_LOGS_FINALIZER,
        run_name=run.metadata.name,
        run_uid=run.metadata.uid,
        spec=spec,
        service_account=settings.service_account,
        automount_token=spec.automount_service_account_token,
        token_volume=token_volume(),
        token_mount=token_mount(),
        image=run_image(run, settings),
        command=["python3", posixpath.join(SHARED_DIR, RUNNER)],
        args=runner_args(spec),
        env=platform_env + (distributed.rank_env(name, spec) if ranks else []) + user_env,
        runner_image=settings.runner_image,
        indexed=distributed.job_fields(spec) if ranks else None,
        prepare_command=["mlkube", "project", "prepare"],
        prepare_args=prepare_args(spec),
        # A Run's env reaches the init container too (a proxy or git setting applies to
        # fetching), except what would point mlkube's own interpreter at the Run image's paths.
        prepare_env=platform_env + [e for e in user_env if e["name"] not in NOT_FOR_PREPARE],
        resources=spec.resources.to_wire() if spec.resources else None,
        shared_dir=SHARED_DIR,
        ca_bundle=(
            {"configmap": CA_BUNDLE_CONFIGMAP, "dir": CA_BUNDLE_DIR} if settings.ca_bundle else None
        ),
        container_security=CONTAINER_SECURITY,
        prepare_security={
            **CONTAINER_SECURITY,
            "runAsNonRoot": True,
            "runAsUser": MLKUBE_UID,
            "runAsGroup": MLKUBE_UID,
        },
    )
