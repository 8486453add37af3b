"""Where everything is: artifact URIs, object keys, id patterns, label and annotation names.

Pure (no I/O, no clock), shared by the operator, the tracking server and the SDK, so that
``kubectl get run -o yaml``, the REST API and the code inside a Run's pod see one URI, and the
operator's registry copies sit where the server's artifact proxy reads them (issue 12).

A client is handed ``mlflow-artifacts:/<experimentId>/<runId>/artifacts``: the stock ``mlflow``
client resolves it against its tracking URI and goes through the tracking server's artifact proxy,
so a Run's pod needs no object-store credentials. Object keys (ARCHITECTURE.md, "Object storage
layout"), all derived from validated ids and never taken raw from a request:

- ``<namespace>/experiments/<experimentId>/<runId>/artifacts/...``: a run's artifacts, with its
  metric histories beside them (``.../<runId>/metrics/...``, ``.../<runId>/extra.json``);
- ``<namespace>/experiments/<experimentId>/models/<modelId>/artifacts/...``: a logged model's
  files, its document at ``<namespace>/logged-models/<modelId>.json``;
- ``<namespace>/models/<model>/<version>/...``: the registry's immutable copy of a model version
  (written by the operator, read-only to the server; ``<model>`` is the RegisteredModel's name);
- ``<namespace>/uploads/<id>/``: multipart uploads in progress;
- ``<namespace>/projects/<sha256>.tar.gz``: a project archive that ``mlkube run`` uploaded
  (artifact path ``projects/<sha256>.tar.gz``; content-addressed, so never deleted through the
  proxy and checked against its name when fetched).

A project Run's pod output is one of its artifacts, written by the operator when the pod ends:
``mlkube/pod-logs/attempt-<n>-<pod>.log`` under the run's artifact root (``pod_log_path``).

An experiment created with an explicit ``s3://`` artifact location keeps it: its runs' URIs are
under it, and its clients read and write there directly. A value that breaks a pattern raises
``LayoutError`` (a ValueError naming the value); the server answers it as
INVALID_PARAMETER_VALUE.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from dataclasses import dataclass
from enum import StrEnum

ARTIFACTS_SCHEME = "mlflow-artifacts"
ARTIFACTS_ROOT = f"{ARTIFACTS_SCHEME}:/"

# -- ids ----------------------------------------------------------------------------------------
EXPERIMENT_ID = re.compile(r"[0-9]{1,19}")
RUN_ID = re.compile(r"[0-9a-f]{32}")
MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# A DNS-1123 subdomain: the rule of most object names (pods, RegisteredModels).
OBJECT_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
MODEL_RESOURCE = OBJECT_NAME  # a RegisteredModel's metadata.name
VERSION_NUMBER = re.compile(r"[1-9][0-9]{0,18}")
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
SHA256 = re.compile(r"[0-9a-f]{64}")
PROJECT_ARCHIVE = re.compile(r"(?P<sha>[0-9a-f]{64})\.tar\.gz")
# S3 keys are at most 1024 bytes.
MAX_KEY_BYTES = 1024

# -- labels and annotations ---------------------------------------------------------------------
MANAGED_BY = {"app.kubernetes.io/managed-by": "mlkube"}
PART_OF = {"app.kubernetes.io/part-of": "mlkube"}
RUN_LABEL = "mlkube.io/run"  # a project Run's Job and pods: the Run's name
RUN_ID_LABEL = "mlkube.io/run-id"  # a Run made by the tracking server: its run id
EXPERIMENT_LABEL = "mlkube.io/experiment"
EXPERIMENT_ID_LABEL = "mlkube.io/experiment-id"
MODEL_LABEL = "mlkube.io/model"  # a ModelVersion: its RegisteredModel's name
DEPLOYMENT_LABEL = "mlkube.io/deployment"
TRACK_LABEL = "mlkube.io/track"  # stable or canary
VERSION_LABEL = "mlkube.io/model-version"
SWEEP_LABEL = "mlkube.io/sweep"  # a Sweep's trial Runs: the Sweep's name
SWEEP_PARENT_LABEL = "mlkube.io/sweep-parent"  # a Sweep's parent (MLflow) run: the Sweep's name
TRIAL_LABEL = "mlkube.io/trial"  # a trial Run: its index in the sweep (0, 1, ...)
PRUNED_ANNOTATION = "mlkube.io/pruned"  # a trial early stopping killed: the step it was judged at
ENTRY_POINT_ANNOTATION = "mlkube.io/entry-point"
CREATED_ANNOTATION = "mlkube.io/created-ms"
UPDATED_ANNOTATION = "mlkube.io/updated-ms"
SOURCE_ANNOTATION = "mlkube.io/mlflow-source"
MODEL_ID_ANNOTATION = "mlkube.io/model-id"
RUN_LINK_ANNOTATION = "mlkube.io/run-link"
# A project Run made by `mlkube run` from a directory in a git checkout: HEAD when it was packed.
GIT_COMMIT_ANNOTATION = "mlkube.io/git-commit"
# The user `mlkube run` says created the Run (client-claimed: the API server records no creator).
CREATED_BY_ANNOTATION = "mlkube.io/created-by"
FINALIZER = "mlkube.io/finalizer"
# On every pod of a project Run (from its Job's template) until the operator has saved the pod's
# log as an artifact of the run: a pod deleted meanwhile (ttlSecondsAfterFinished, the Job's
# deadline, kubectl) waits for it.
POD_LOGS_FINALIZER = "mlkube.io/pod-logs"
POD_LOGS_DIR = "mlkube/pod-logs"


class LayoutError(ValueError):
    """A value that cannot be part of a key or URI; the message names it."""


def experiment_artifact_location(experiment_id: str, custom: str | None = None) -> str:
    """An experiment's artifact location: ``custom`` (its spec.artifactLocation) when given,
    else ``mlflow-artifacts:/<experimentId>``."""
    return custom or f"{ARTIFACTS_ROOT}{experiment_id}"


def run_artifact_uri(experiment_location: str, run_id: str) -> str:
    """A run's artifact URI, under its experiment's artifact location (see
    ``experiment_artifact_location``): ``mlflow-artifacts:/<experimentId>/<runId>/artifacts``
    by default."""
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


def logged_model_artifact_uri(experiment_location: str, model_id: str) -> str:
    """A logged model's artifact URI: ``<experiment location>/models/<modelId>/artifacts``."""
    return f"{experiment_location.rstrip('/')}/models/{model_id}/artifacts"


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise LayoutError(f"invalid {what} {value[:80]!r}")
    return value


def safe_relative(path: str) -> str:
    """A relative artifact path, normalized; absolute paths, ``..``, NUL and backslashes are
    refused so that no request can name a key outside its own prefix."""
    if path in ("", "."):
        return ""
    if "\x00" in path or "\\" in path:
        raise LayoutError(
            f"invalid artifact path {path[:200]!r}: NUL and backslash are not allowed"
        )
    if path.startswith("/"):
        raise LayoutError(f"invalid artifact path {path[:200]!r}: it must be relative")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise LayoutError(f"invalid artifact path {path[:200]!r}: '..' is not allowed")
    return "/".join(parts)


def experiment_prefix(namespace: str, experiment_id: str) -> str:
    _checked(NAMESPACE, namespace, "namespace")
    _checked(EXPERIMENT_ID, experiment_id, "experiment id")
    return f"{namespace}/experiments/{experiment_id}/"


def run_prefix(namespace: str, experiment_id: str, run_id: str) -> str:
    _checked(RUN_ID, run_id, "run id")
    return f"{experiment_prefix(namespace, experiment_id)}{run_id}/"


def run_artifacts_prefix(namespace: str, experiment_id: str, run_id: str) -> str:
    return f"{run_prefix(namespace, experiment_id, run_id)}artifacts/"


def model_artifacts_prefix(namespace: str, experiment_id: str, model_id: str) -> str:
    _checked(MODEL_ID, model_id, "logged model id")
    return f"{experiment_prefix(namespace, experiment_id)}models/{model_id}/artifacts/"


def metric_key_segment(key: str) -> str:
    """A metric name as one path segment: names hold '/' and other characters keys should not."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def metrics_prefix(namespace: str, experiment_id: str, run_id: str) -> str:
    return f"{run_prefix(namespace, experiment_id, run_id)}metrics/"


def run_extra_key(namespace: str, experiment_id: str, run_id: str) -> str:
    """Params and tags that do not fit in the Run object, and dataset inputs."""
    return f"{run_prefix(namespace, experiment_id, run_id)}extra.json"


def logged_model_key(namespace: str, model_id: str) -> str:
    _checked(NAMESPACE, namespace, "namespace")
    _checked(MODEL_ID, model_id, "logged model id")
    return f"{namespace}/logged-models/{model_id}.json"


def logged_models_prefix(namespace: str) -> str:
    _checked(NAMESPACE, namespace, "namespace")
    return f"{namespace}/logged-models/"


def registry_path(model: str, version: int) -> str:
    """The artifact path (after ``mlflow-artifacts:/``) of a version's registry copy."""
    _checked(MODEL_RESOURCE, model, "registered model resource name")
    _checked(VERSION_NUMBER, str(version), "version number")
    return f"models/{model}/{version}"


def registry_prefix(namespace: str, model: str, version: int) -> str:
    """The registry copy of a model version (where the operator's ModelVersion controller puts
    it: ``<namespace>/models/<model>/<version>/``)."""
    _checked(NAMESPACE, namespace, "namespace")
    return f"{namespace}/{registry_path(model, version)}/"


def upload_prefix(namespace: str, upload_id: str) -> str:
    """Parts of a multipart upload in progress, composed into the artifact on completion."""
    _checked(NAMESPACE, namespace, "namespace")
    _checked(UPLOAD_ID, upload_id, "upload id")
    return f"{namespace}/uploads/{upload_id}/"


def pod_log_path(attempt: int, pod: str) -> str:
    """The artifact path (under a run's artifact root) of the log of ``pod``, the run's
    ``attempt``-th pod: ``mlkube/pod-logs/attempt-<n>-<pod>.log``, so a listing shows the tries
    in order and names the pod ``kubectl`` showed."""
    _checked(OBJECT_NAME, pod, "pod name")
    if attempt < 1:
        raise LayoutError(f"invalid attempt number {attempt}")
    return f"{POD_LOGS_DIR}/attempt-{attempt}-{pod}.log"


def project_archive_path(sha256: str) -> str:
    """The artifact path (after ``mlflow-artifacts:/``) of a project archive."""
    return f"projects/{_checked(SHA256, sha256, 'project archive sha256')}.tar.gz"


def project_archive_uri(sha256: str) -> str:
    """What a Run's spec.project.uri says for an archive ``mlkube run`` uploaded."""
    return ARTIFACTS_ROOT + project_archive_path(sha256)


def project_archives_prefix(namespace: str) -> str:
    _checked(NAMESPACE, namespace, "namespace")
    return f"{namespace}/projects/"


class Owner(StrEnum):
    RUN = "run"
    MODEL = "model"
    REGISTRY = "registered model version"
    PROJECT = "project archive"


@dataclass(frozen=True)
class ArtifactPath:
    """A path of the mlflow-artifacts API: ``<exp>/<runId>/artifacts/<rest>``,
    ``<exp>/models/<modelId>/artifacts/<rest>`` or, for a registry copy, ``models/<model>/
    <version>/<rest>`` (``experiment_id`` empty, ``owner_id`` the model) or, for a project
    archive, ``projects/<sha256>.tar.gz`` (``owner_id`` the sha256, ``rest`` the file name);
    ``rest`` may be empty (the root)."""

    experiment_id: str
    owner: Owner
    owner_id: str
    rest: str
    version: int = 0

    def key(self, namespace: str) -> str:
        if self.owner is Owner.RUN:
            prefix = run_artifacts_prefix(namespace, self.experiment_id, self.owner_id)
        elif self.owner is Owner.REGISTRY:
            prefix = registry_prefix(namespace, self.owner_id, self.version)
        elif self.owner is Owner.PROJECT:
            prefix = project_archives_prefix(namespace)
        else:
            prefix = model_artifacts_prefix(namespace, self.experiment_id, self.owner_id)
        key = prefix + self.rest
        if len(key.encode()) > MAX_KEY_BYTES:
            raise LayoutError(
                f"the artifact path {self.rest[:80]!r}... is too long for object storage"
            )
        return key

    def prefix(self, namespace: str) -> str:
        key = self.key(namespace)
        return key if key.endswith("/") else key + "/"

    def child(self, object_key: str, namespace: str) -> str:
        """The path (relative to the artifacts root) of an object key under this owner."""
        root = dataclasses.replace(self, rest="").key(namespace)
        return object_key[len(root) :].rstrip("/")


def parse_artifact_path(path: str) -> ArtifactPath | None:
    """The artifact path's parts; None when it is shallower than an artifacts root (a listing
    there is empty); INVALID_PARAMETER_VALUE when it is of none of the shapes."""
    clean = safe_relative(path)
    parts = clean.split("/") if clean else []
    if parts and parts[0] == "models":
        return _registry_path(parts)
    if parts and parts[0] == "projects":
        return _project_path(parts)
    if len(parts) < 3 or (parts[1] == "models" and len(parts) < 4):
        if parts:
            _checked(EXPERIMENT_ID, parts[0], "experiment id in the artifact path")
        return None
    experiment_id = _checked(EXPERIMENT_ID, parts[0], "experiment id in the artifact path")
    if parts[1] == "models":
        model_id = _checked(MODEL_ID, parts[2], "logged model id in the artifact path")
        if parts[3] != "artifacts":
            raise LayoutError(
                f"invalid artifact path {clean!r}: expected <exp>/models/<id>/artifacts/"
            )
        return ArtifactPath(experiment_id, Owner.MODEL, model_id, "/".join(parts[4:]))
    run_id = _checked(RUN_ID, parts[1], "run id in the artifact path")
    if parts[2] != "artifacts":
        raise LayoutError(f"invalid artifact path {clean!r}: expected <exp>/<runId>/artifacts/")
    return ArtifactPath(experiment_id, Owner.RUN, run_id, "/".join(parts[3:]))


def _registry_path(parts: list[str]) -> ArtifactPath | None:
    """``models/<model>/<version>/<rest>``: a registry copy (no experiment id starts so)."""
    if len(parts) < 3:
        if len(parts) == 2:
            _checked(MODEL_RESOURCE, parts[1], "registered model in the artifact path")
        return None
    model = _checked(MODEL_RESOURCE, parts[1], "registered model in the artifact path")
    version = int(_checked(VERSION_NUMBER, parts[2], "version number in the artifact path"))
    return ArtifactPath("", Owner.REGISTRY, model, "/".join(parts[3:]), version)


def _project_path(parts: list[str]) -> ArtifactPath | None:
    """``projects/<sha256>.tar.gz``, exactly: nothing else lives under ``projects/``."""
    if len(parts) == 1:
        return None
    name = parts[1]
    match = PROJECT_ARCHIVE.fullmatch(name)
    if len(parts) != 2 or match is None:
        raise LayoutError(
            f"invalid artifact path {'/'.join(parts)[:200]!r}: expected projects/<sha256>.tar.gz"
        )
    return ArtifactPath("", Owner.PROJECT, match["sha"], name)
