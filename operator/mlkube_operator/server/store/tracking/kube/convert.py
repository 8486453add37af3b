"""Between the resource models (mlkube.api) and the tracking entities; pure functions.

Run phases map to MLflow statuses one to one (Pending is SCHEDULED). Times are datetimes in the
resources and milliseconds in MLflow. Metric values JSON cannot hold (NaN, ±Infinity) are kept as
``nonFinite`` beside a 0.
"""

from __future__ import annotations

from typing import Any

from mlkube import layout
from mlkube.api.experiment import Experiment as ExperimentResource
from mlkube.api.experiment import LifecycleStage as ResourceStage
from mlkube.api.run import Run as RunResource
from mlkube.api.run import RunPhase
from mlkube.projects import tags as project_tags
from mlkube_operator.server.entities import (
    Experiment,
    LifecycleStage,
    ModelOutput,
    Run,
    RunInfo,
    RunStatus,
)
from mlkube_operator.server.store.shared import naming
from mlkube_operator.server.store.tracking.base import DEFAULT_EXPERIMENT_NAME
from mlkube_operator.server.store.tracking.kube.extra import Extra
from mlkube_operator.server.store.tracking.kube.values import from_ms, metric_of, to_ms

DEFAULT_RESOURCE = "default"
# MLflow stores an experiment's description as this tag; we keep it in spec.description, where
# kubectl describe shows it.
NOTE_TAG = "mlflow.note.content"

PHASE_TO_STATUS = {
    RunPhase.PENDING: RunStatus.SCHEDULED,
    RunPhase.RUNNING: RunStatus.RUNNING,
    RunPhase.SUCCEEDED: RunStatus.FINISHED,
    RunPhase.FAILED: RunStatus.FAILED,
    RunPhase.KILLED: RunStatus.KILLED,
}
STATUS_TO_PHASE = {status: phase for phase, status in PHASE_TO_STATUS.items()}


def experiment_resource_name(name: str) -> str:
    """A valid, stable metadata.name for an MLflow experiment name.

    A name that already is a DNS label is used as is (so `kubectl get exp churn` works); any
    other gets a slug plus a hash of the full name, so distinct names never collide and the
    same name always maps to the same object (the API server then rejects a duplicate create).
    ``default`` is reserved for the Default experiment.
    """
    if name == DEFAULT_EXPERIMENT_NAME:
        return DEFAULT_RESOURCE
    if name == DEFAULT_RESOURCE:
        return naming.hashed_name(name, "experiment")
    return naming.resource_name(name, "experiment")


def experiment_name(resource: ExperimentResource) -> str:
    return resource.spec.display_name or resource.metadata.name


def experiment_entity(resource: ExperimentResource) -> Experiment | None:
    """The MLflow experiment, or None while it has no id yet."""
    status = resource.status
    experiment_id = status.experiment_id
    if experiment_id is None:
        return None
    created = to_ms(status.creation_time) or to_ms(resource.metadata.creation_timestamp) or 0
    tags = dict(resource.spec.tags)
    if resource.spec.description:
        tags[NOTE_TAG] = resource.spec.description
    return Experiment(
        experiment_id=experiment_id,
        name=experiment_name(resource),
        artifact_location=layout.experiment_artifact_location(
            experiment_id, resource.spec.artifact_location
        ),
        lifecycle_stage=LifecycleStage(status.lifecycle_stage),
        creation_time=created,
        last_update_time=to_ms(status.last_update_time) or created,
        tags=tags,
    )


def new_experiment(
    name: str, artifact_location: str | None, tags: dict[str, str]
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    resource = experiment_resource_name(name)
    if name != resource:
        spec["displayName"] = name
    plain = {k: v for k, v in tags.items() if k != NOTE_TAG}
    if plain:
        spec["tags"] = plain
    if NOTE_TAG in tags:
        spec["description"] = tags[NOTE_TAG]
    if artifact_location:
        spec["artifactLocation"] = artifact_location
    return {
        "apiVersion": "mlkube.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": resource},
        "spec": spec,
    }


def experiment_stamp(created_ms: int, with_stage: bool) -> dict[str, Any]:
    """The status fields the server writes on an Experiment that has just got its id: creation
    and update time, and (when unset) the lifecycle stage. Never the id (``kube/ids.py``
    ``ensure_experiment_id`` is its one writer) nor status.artifactLocation (the operator's)."""
    fields: dict[str, Any] = {
        "creationTime": from_ms(created_ms),
        "lastUpdateTime": from_ms(created_ms),
    }
    if with_stage:
        fields["lifecycleStage"] = ResourceStage.ACTIVE.value
    return fields


def run_entity(resource: RunResource, experiment_id: str, extra: Extra | None = None) -> Run | None:
    """The MLflow run, or None while the Run has no run id (a project run not yet started);
    ``extra`` is what the run keeps in object storage (cache.Extra)."""
    status = resource.status
    if status.run_id is None:
        return None
    phase = RunPhase(status.phase) if status.phase else RunPhase.PENDING
    extra = extra or Extra()
    # A project Run also shows the tags `mlflow run` sets and its Kubernetes facts, derived
    # here from the object on every read, so they follow its phase with no writer of their own.
    tags = project_tags.run_tags(resource, {**resource.spec.tags, **status.tags, **extra.tags})
    # The mlflow.runName tag follows renames; spec.runName is the name the run was created with.
    run_name = tags.get("mlflow.runName") or resource.spec.run_name or resource.metadata.name
    info = RunInfo(
        run_id=status.run_id,
        experiment_id=experiment_id,
        run_name=run_name,
        user_id=status.user_id or tags.get(project_tags.USER, ""),
        status=PHASE_TO_STATUS[phase],
        start_time=to_ms(status.start_time),
        end_time=to_ms(status.end_time),
        # Written by whoever started the run (operator or server) with mlkube.layout; the
        # fallback is the same function for a run whose status has not been written yet.
        artifact_uri=status.artifact_uri
        or layout.run_artifact_uri(
            layout.experiment_artifact_location(experiment_id), status.run_id
        ),
        lifecycle_stage=LifecycleStage(status.lifecycle_stage),
    )
    return Run(
        info=info,
        metrics={
            **{key: metric_of(key, value) for key, value in status.metrics.items()},
            **extra.metrics,
        },
        params={**status.params, **extra.params},
        tags=tags,
        datasets=extra.datasets,
        model_inputs=tuple(status.model_inputs),
        model_outputs=tuple(ModelOutput(o.model_id, o.step) for o in status.model_outputs),
    )
