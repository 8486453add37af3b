"""Run: one execution of project code (a Kubernetes Job), or a tracking-only run from a client."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from mlkube.api.common import (
    Condition,
    EnvVar,
    KubeName,
    Model,
    ObjectMeta,
    ResourceRequirements,
    conditions_field,
    immutable,
    observed_generation_field,
)
from mlkube.api.experiment import LifecycleStage

# spec.env names the init container (mlkube's image, `mlkube project prepare`) does not get.
NOT_FOR_PREPARE = (
    "PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
)


# A distributed Run's pods (spec.workers); each rank's log is one of status.podLogs.
MAX_WORKERS = 64


class RunPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    KILLED = "Killed"


class GitSource(Model):
    """A project in a git repository."""

    url: str = Field(min_length=1, description="Clone URL of the repository.")
    revision: str = Field(
        default="HEAD", min_length=1, description="Branch, tag or commit to check out."
    )
    path: str = Field(
        default="",
        pattern=r"^([^/.][^/]*(/[^/]+)*)?$",
        description="Subdirectory of the repository that holds the MLproject, relative.",
    )


class ProjectSource(Model):
    """Where the project's code comes from: exactly one of uri, git or path."""

    exactly_one_of = (("uri", "git", "path"),)

    uri: str | None = Field(
        default=None,
        pattern=r"^(mlflow-artifacts:/projects/[0-9a-f]{64}\.tar\.gz|s3://[^/]+/.+)$",
        description="A project archive (.tar.gz): mlflow-artifacts:/projects/<sha256>.tar.gz, "
        "as `mlkube run` uploads it through the tracking server (fetched with the pod's token), "
        "or an s3:// URI, fetched with the MLKUBE_S3_ENDPOINT, MLKUBE_S3_ACCESS_KEY and "
        "MLKUBE_S3_SECRET_KEY given in env (pods get no object-store credential from mlkube).",
    )
    git: GitSource | None = Field(default=None, description="A git repository to clone.")
    path: str | None = Field(
        default=None,
        pattern=r"^/.*$",
        description="An absolute directory inside the image that holds the project.",
    )


class RunSpec(Model):
    """What the user asks for. A Run without `project` is tracking-only (created by a client)."""

    experiment: KubeName = Field(
        default="default",
        description="Name of the Experiment in this namespace that the run belongs to; it is "
        "created when missing. Immutable.",
        json_schema_extra=immutable("spec.experiment"),
    )
    run_name: str | None = Field(
        default=None, max_length=250, description="Display name; defaults to metadata.name."
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="MLflow tags to set on the run when it starts (values up to 8000 characters).",
        json_schema_extra={"maxProperties": 1000},
    )
    project: ProjectSource | None = Field(
        default=None, description="The MLproject to run. Absent for tracking-only runs."
    )
    entry_point: str = Field(
        default="main",
        min_length=1,
        description="The MLproject entry point to run, or a .py/.sh file of the project.",
    )
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Values for the entry point's parameters, as strings (quote numbers in YAML: "
        'alpha: "0.5"). Each is checked against the type the MLproject declares (string, '
        "float, int, path, uri); parameters the entry point does not declare are passed as "
        "--key value.",
        json_schema_extra={"maxProperties": 100},
    )
    image: str | None = Field(
        default=None,
        min_length=1,
        description="Container image that runs the project; defaults to the operator's runtime "
        "image. It needs no mlkube: an init container brings the runner. It needs python3 "
        "(3.9 or later) and bash on its PATH and, when the project's python_env lists packages "
        "its python lacks, the venv module with ensurepip (Debian: python3-venv), to install "
        "them into a virtualenv for the run. It may run as any user.",
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=100,
        description="Extra environment variables for the run's container; the init container "
        "that fetches the project gets them too, except "
        f"{', '.join(NOT_FOR_PREPARE)} (they would point mlkube's own python at the run "
        "image's paths).",
    )
    resources: ResourceRequirements | None = Field(
        default=None,
        description="CPU and memory requests and limits of the run's container (and of the "
        "init container that fetches the project, so the pod asks for no more than this).",
    )
    backoff_limit: int = Field(
        default=0, ge=0, le=100, description="Retries of a failed pod before the run fails."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=MAX_WORKERS,
        description="How many pods run the entry point together (distributed training). With "
        "more than 1, the pods are ranks 0..workers-1 of one Indexed Job and each gets RANK, "
        "LOCAL_RANK (0: one process per pod), WORLD_SIZE and MASTER_ADDR:MASTER_PORT (rank 0's "
        "host name and port 29500, through a headless Service named after the Job), as "
        "torch.distributed's env:// init reads them. Rank 0 logs to the run; the others log "
        "only their host as a tag (mlkube.rank.<r>.host). The run succeeds when every rank "
        "exits 0 and fails, naming the rank, when any fails: no rank is retried, so "
        "backoffLimit must be 0. Immutable.",
        json_schema_extra=immutable("spec.workers"),
    )
    active_deadline_seconds: int | None = Field(
        default=None, ge=1, description="Kill the run when it has run longer than this."
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete the run's Job (not the Run) this long after it finished.",
    )
    suspend: bool = Field(
        default=False, description="Set to true to kill a running run; it ends in phase Killed."
    )
    automount_service_account_token: bool = Field(
        default=False,
        description="Mount the ServiceAccount's Kubernetes API token in the run's pod, as "
        "Kubernetes does by default. Off unless asked: the run's code reaches the tracking "
        "server with its own token (audience mlkube, refreshed, in the file MLKUBE_TOKEN_FILE "
        "names), which the Kubernetes API does not accept.",
    )


class NonFinite(StrEnum):
    NAN = "NaN"
    INFINITY = "Infinity"
    NEGATIVE_INFINITY = "-Infinity"


class MetricValue(Model):
    """The latest value of one metric."""

    value: float = Field(description="The value logged (0 when nonFinite is set).")
    non_finite: NonFinite | None = Field(
        default=None,
        description="NaN, Infinity or -Infinity when the value logged was one of those, which "
        "JSON (and so the API server) cannot hold as a number.",
    )
    timestamp: int = Field(ge=0, description="Milliseconds since the epoch, as logged.")
    step: int = Field(default=0, description="The step at which it was logged.")


class ModelOutputRef(Model):
    """A logged model the run produced."""

    model_id: str = Field(min_length=1, description="The logged model's id (m-...).")
    step: int = Field(default=0, description="The step at which the run produced it.")


class RunExtra(Model):
    """What the run logged that is kept in object storage rather than in this object."""

    object: str = Field(
        min_length=1,
        pattern=r"^extra-[0-9a-f]{16}\.json$",
        description="Name of the JSON document beside the run's artifacts (under "
        "<namespace>/experiments/<experimentId>/<runId>/) holding the params, tags and latest "
        "metric values that did not fit in this object, and the run's dataset inputs.",
    )
    params: int = Field(default=0, ge=0, description="Params kept there.")
    metrics: int = Field(
        default=0, ge=0, description="Latest metric values kept there (runs with very many keys)."
    )
    tags: int = Field(default=0, ge=0, description="Tags kept there.")
    datasets: int = Field(default=0, ge=0, description="Dataset inputs kept there.")


# A Job makes at most backoffLimit + 1 pods (100 + 1), or one per rank (MAX_WORKERS, never
# retried), plus replacements of deleted ones.
MAX_POD_LOGS = 200


class PodLog(Model):
    """One pod's output, saved by the operator as an artifact of the run when the pod ended."""

    pod: str = Field(min_length=1, max_length=253, description="The pod's name.")
    attempt: int = Field(
        ge=1, description="Which try of the run the pod was: 1, then 2, ... (spec.backoffLimit)."
    )
    path: str = Field(
        min_length=1,
        max_length=1024,
        description="The artifact's path under status.artifactUri: "
        "mlkube/pod-logs/attempt-<n>-<pod>.log.",
    )
    size: int = Field(ge=0, description="The artifact's size in bytes.")
    truncated: bool = Field(
        default=False,
        description="The log was longer than the operator keeps (8 MiB): the artifact holds its "
        "beginning, and its last line says so.",
    )


class RunStatus(Model):
    """What happened. Lifecycle fields are the operator's; params, metrics and tags are what the
    code logged through the tracking server (see "Who writes what" in ARCHITECTURE.md)."""

    run_id: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{32}$", description="The MLflow run id: 32 hex digits."
    )
    phase: RunPhase | None = Field(
        default=None, description="Pending, Running, Succeeded, Failed or Killed."
    )
    start_time: datetime | None = Field(default=None, description="When the run started.")
    end_time: datetime | None = Field(default=None, description="When the run ended.")
    duration: str | None = Field(
        default=None, description="How long the run took (or has taken), for example 3m12s."
    )
    artifact_uri: str | None = Field(
        default=None,
        description="Where the run's artifacts are, the URI every client uses (kubectl, the "
        "REST API, the run's own code): mlflow-artifacts:/<experimentId>/<runId>/artifacts "
        "unless the experiment has an s3:// artifactLocation.",
    )
    job_name: str | None = Field(default=None, description="The Job that runs the project.")
    image: str | None = Field(
        default=None,
        description="The image that runs the project: spec.image, or the operator's runtime "
        "image when the Run names none.",
    )
    message: str | None = Field(
        default=None,
        max_length=4096,
        description="Why the run is in its phase; for a failed run the tail of its error.",
    )
    lifecycle_stage: LifecycleStage = Field(
        default=LifecycleStage.ACTIVE, description="active, or deleted (restorable) via MLflow."
    )
    user_id: str | None = Field(default=None, description="Who started the run.")
    params: dict[str, str] = Field(
        default_factory=dict, description="Parameters logged by the run (immutable once logged)."
    )
    metrics: dict[str, MetricValue] = Field(
        default_factory=dict, description="The latest value of each metric logged by the run."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags set on the run.")
    model_inputs: list[str] = Field(
        default_factory=list, description="Logged models (m-...) the run used as inputs."
    )
    model_outputs: list[ModelOutputRef] = Field(
        default_factory=list, description="Logged models the run produced."
    )
    extra: RunExtra | None = Field(
        default=None,
        description="Set when params, tags or metrics overflowed the object size the API server "
        "accepts, or the run has dataset inputs: where those are kept.",
    )
    pod_logs: list[PodLog] = Field(
        default_factory=list,
        max_length=MAX_POD_LOGS,
        description="The logs of the run's pods that the operator saved as artifacts, in the "
        "order the pods were made (project Runs; condition PodLogsSaved once all are saved).",
    )
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = observed_generation_field()


class Run(Model):
    api_version: str = Field(default="mlkube.io/v1alpha1", description="mlkube.io/v1alpha1")
    kind: str = Field(default="Run", description="Run")
    metadata: ObjectMeta
    spec: RunSpec = Field(default_factory=RunSpec)
    status: RunStatus = Field(default_factory=RunStatus)
