"""The tags `mlflow run` sets on a project run, and the Kubernetes facts mlkube adds, for a Run.

MLflow's ``mlflow run`` (mlflow/projects/utils.py ``_create_run``, mlflow/projects/__init__.py,
mlflow/projects/backend/local.py) tags a project run with ``mlflow.source.type`` = ``PROJECT``,
``mlflow.source.name`` (the project URI; a git subdirectory after ``#``),
``mlflow.project.entryPoint``, ``mlflow.user``, ``mlflow.source.git.commit`` and
``mlflow.source.git.repoURL`` (git projects), ``mlflow.project.env`` (``docker``, ``conda``,
``virtualenv``, ...) and ``mlflow.project.backend``. mlkube's are below; who supplies them:

- ``run_tags`` (pure, read from the Run object): the tracking server adds them to a project
  Run's tags when it serves it, so they need no writer and follow the Run (its phase, Job).
  ``mlkube.kubernetes.*`` are facts and win over any tag of the same name a client set; the
  ``mlflow.*`` ones are defaults that tags a client set (status.tags, spec.tags) replace.
- ``mlflow.project.env`` and the commit a git project resolved to are known only to the pod
  that has the project's files: the runner sets them through the tracking API
  (mlkube.projects.facts).
"""

from __future__ import annotations

import re

from mlkube import layout
from mlkube.api.run import Run
from mlkube.projects.facts import GIT_COMMIT

SOURCE_TYPE = "mlflow.source.type"
SOURCE_NAME = "mlflow.source.name"
GIT_REPO_URL = "mlflow.source.git.repoURL"
ENTRY_POINT = "mlflow.project.entryPoint"
BACKEND = "mlflow.project.backend"
USER = "mlflow.user"
# The facts' keys: only mlkube writes them (the tracking API refuses them from clients).
KUBERNETES_PREFIX = "mlkube.kubernetes."
NAMESPACE = "mlkube.kubernetes.namespace"
JOB = "mlkube.kubernetes.job"
IMAGE = "mlkube.kubernetes.image"
PHASE = "mlkube.kubernetes.phase"

PROJECT = "PROJECT"  # mlflow.entities.SourceType.PROJECT as a string
BACKEND_NAME = "kubernetes"  # what `mlflow run --backend kubernetes` sets
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def source_name(run: Run) -> str | None:
    """The project's URI as `mlflow run` would name it: an archive URI, a git URL (with
    ``#subdirectory``), or the directory inside the image."""
    project = run.spec.project
    if project is None:
        return None
    if project.git is not None:
        path = project.git.path
        return f"{project.git.url}#{path}" if path else project.git.url
    return project.uri or project.path


def defaults(run: Run) -> dict[str, str]:
    """The ``mlflow.*`` tags a project Run has unless a client set them otherwise."""
    project = run.spec.project
    if project is None:
        return {}
    tags = {
        SOURCE_TYPE: PROJECT,
        SOURCE_NAME: source_name(run) or "",
        ENTRY_POINT: run.spec.entry_point,
        BACKEND: BACKEND_NAME,
    }
    annotations = run.metadata.annotations or {}
    if project.git is not None:
        tags[GIT_REPO_URL] = project.git.url
        if _COMMIT.match(project.git.revision):
            tags[GIT_COMMIT] = project.git.revision
    commit = annotations.get(layout.GIT_COMMIT_ANNOTATION, "")
    if _COMMIT.match(commit) and GIT_COMMIT not in tags:
        tags[GIT_COMMIT] = commit
    user = annotations.get(layout.CREATED_BY_ANNOTATION)
    if user:
        tags[USER] = user
    return tags


def kubernetes_facts(run: Run) -> dict[str, str]:
    """The ``mlkube.kubernetes.*`` tags of a project Run: where and how it runs, as the Run's
    status says (the operator writes jobName, image and phase)."""
    if run.spec.project is None:
        return {}
    status = run.status
    tags = {NAMESPACE: run.metadata.namespace or ""}
    if status.job_name:
        tags[JOB] = status.job_name
    if status.image:
        tags[IMAGE] = status.image
    if status.phase:
        tags[PHASE] = str(status.phase)
    return {k: v for k, v in tags.items() if v}


def run_tags(run: Run, logged: dict[str, str]) -> dict[str, str]:
    """``logged`` (the tags clients set) with the project Run's defaults under them and its
    Kubernetes facts over them; a Run without a project gets ``logged`` unchanged."""
    if run.spec.project is None:
        return logged
    return {**defaults(run), **logged, **kubernetes_facts(run)}
