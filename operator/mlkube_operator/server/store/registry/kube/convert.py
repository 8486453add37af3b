"""RegisteredModel and ModelVersion resources to registry entities, and new objects' bodies.

Who writes what: the server writes specs, metadata (labels, annotations) and status.version
(claimed with kube/versions.py); the operator writes status.phase, message, storageUri, flavors
and signature. What MLflow has and the resources do not (times in milliseconds, the source as the
client gave it, the logged model id, the run link) is kept in ``mlkube.io/`` annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlkube import layout
from mlkube.api.common import ObjectMeta
from mlkube.api.model_deployment import ModelDeployment as Deployment
from mlkube.api.model_version import ModelVersion as VersionResource
from mlkube.api.model_version import ModelVersionPhase
from mlkube.api.registered_model import RegisteredModel as ModelResource
from mlkube_operator.server.store.registry import rules
from mlkube_operator.server.store.registry.entities import (
    ModelVersion,
    NewVersion,
    RegisteredModel,
    Stage,
    VersionStatus,
)
from mlkube_operator.server.store.registry.kube.names import fits_label
from mlkube_operator.server.store.registry.kube.serving import serving_tag

Obj = dict[str, Any]
CREATED = layout.CREATED_ANNOTATION
UPDATED = layout.UPDATED_ANNOTATION
SOURCE = layout.SOURCE_ANNOTATION
MODEL_ID = layout.MODEL_ID_ANNOTATION
RUN_LINK = layout.RUN_LINK_ANNOTATION
API_VERSION = "mlkube.io/v1alpha1"

PHASE_STATUS = {
    ModelVersionPhase.READY.value: VersionStatus.READY,
    ModelVersionPhase.FAILED_REGISTRATION.value: VersionStatus.FAILED_REGISTRATION,
}


def model_name(resource: ModelResource) -> str:
    """The model's MLflow name."""
    return resource.spec.display_name or resource.metadata.name


def _times(meta: ObjectMeta) -> tuple[int, int]:
    """(created, last updated) in ms: our annotations, else the object's creation time (for
    objects applied with kubectl)."""
    stamp = meta.creation_timestamp
    fallback = int(stamp.timestamp() * 1000) if stamp is not None else 0
    created = _int(meta.annotations.get(CREATED)) or fallback
    return created, max(created, _int(meta.annotations.get(UPDATED)) or created)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def touched(now: int) -> Obj:
    """The metadata part of a patch that changes the object (last_updated_timestamp)."""
    return {"annotations": {UPDATED: str(now)}}


def version_number(resource: VersionResource, model: ModelResource) -> int | None:
    """The number the version was given: in its status, or (before that is written) in its
    model's claims, keyed by the version's uid."""
    if resource.status.version is not None:
        return resource.status.version
    uid = resource.metadata.uid
    return model.status.version_claims.get(uid) if uid else None


def version_tags(
    resource: VersionResource, number: int, model: ModelResource, serving: Sequence[Deployment]
) -> dict[str, str]:
    """The version's spec.tags and the derived ``mlkube.deployments`` (a spec tag of that key,
    applied with kubectl, gives way: the tag says what the deployments say, or is absent)."""
    tags = {k: v for k, v in resource.spec.tags.items() if k != rules.DEPLOYMENTS_TAG}
    served = serving_tag(serving, model.metadata.name, number)
    if served is not None:
        tags[rules.DEPLOYMENTS_TAG] = served
    return tags


def version_entity(
    resource: VersionResource,
    number: int,
    model: ModelResource,
    serving: Sequence[Deployment] = (),
) -> ModelVersion:
    """The MLflow version of ``resource``; ``serving``: the ModelDeployments of its namespace
    that name its model (the cache's ``deployments_of``)."""
    meta, spec, status = resource.metadata, resource.spec, resource.status
    created, updated = _times(meta)
    phase = status.phase
    ready = phase == ModelVersionPhase.READY.value
    source = meta.annotations.get(SOURCE) or spec.source
    model_id = meta.annotations.get(MODEL_ID) or (
        spec.source.removeprefix("models:/") if spec.source.startswith("models:/m-") else None
    )
    return ModelVersion(
        name=model_name(model),
        version=number,
        creation_timestamp=created,
        last_updated_timestamp=updated,
        current_stage=Stage(spec.stage),
        source=source,
        status=PHASE_STATUS.get(str(phase), VersionStatus.PENDING_REGISTRATION),
        description=spec.description,
        status_message=status.message or None,
        run_id=spec.run_id,
        run_link=meta.annotations.get(RUN_LINK),
        model_id=model_id,
        tags=version_tags(resource, number, model, serving),
        aliases=rules.aliases_of(model.spec.aliases, number),
        storage_source=spec.source,
        storage_location=status.storage_uri if ready else None,
    )


def model_entity(resource: ModelResource, versions: list[ModelVersion]) -> RegisteredModel:
    created, updated = _times(resource.metadata)
    # A new version or stage change also changes its model (as MLflow's stores record it).
    updated = max([updated, *(v.last_updated_timestamp for v in versions)])
    return RegisteredModel(
        name=model_name(resource),
        creation_timestamp=created,
        last_updated_timestamp=updated,
        description=resource.spec.description,
        tags=dict(resource.spec.tags),
        aliases=dict(resource.spec.aliases),
        latest_versions=rules.latest_per_stage(versions),
    )


def model_body(
    resource_name: str, name: str, description: str, tags: dict[str, str], now: int
) -> Obj:
    spec: Obj = {"description": description, "tags": tags}
    if name != resource_name:
        spec["displayName"] = name
    return {
        "apiVersion": API_VERSION,
        "kind": "RegisteredModel",
        "metadata": {
            "name": resource_name,
            "annotations": {CREATED: str(now), UPDATED: str(now)},
        },
        "spec": spec,
    }


def version_body(resource_name: str, model: str, new: NewVersion, now: int) -> Obj:
    annotations = {CREATED: str(now), UPDATED: str(now)}
    if new.source != new.storage_source:
        annotations[SOURCE] = new.source
    if new.model_id:
        annotations[MODEL_ID] = new.model_id
    if new.run_link:
        annotations[RUN_LINK] = new.run_link
    spec: Obj = {
        "model": model,
        "source": new.storage_source,
        "description": new.description,
        "tags": new.tags,
    }
    if new.run_id:
        spec["runId"] = new.run_id
    metadata: Obj = {"name": resource_name, "annotations": annotations}
    if fits_label(model):
        metadata["labels"] = {layout.MODEL_LABEL: model}
    return {"apiVersion": API_VERSION, "kind": "ModelVersion", "metadata": metadata, "spec": spec}
