"""ModelVersion: one immutable version of a registered model, copied into the registry."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from mlkube.api.common import (
    Condition,
    KubeName,
    Model,
    ObjectMeta,
    conditions_field,
    immutable,
    observed_generation_field,
)


class Stage(StrEnum):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


class ModelVersionPhase(StrEnum):
    PENDING_REGISTRATION = "PendingRegistration"
    READY = "Ready"
    FAILED_REGISTRATION = "FailedRegistration"


class ModelVersionSpec(Model):
    """A version to register: the model it belongs to and where its files are."""

    model: KubeName = Field(
        description="Name of the RegisteredModel in this namespace. Immutable.",
        json_schema_extra=immutable("spec.model"),
    )
    source: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^(runs:/[0-9a-f]{32}/.*|models:/[^/]+|s3://[^/]+/.+)$",
        description="Where the model's files are: runs:/<runId>/<path>, models:/<modelId> "
        "(an MLflow 3 logged model) or s3://<bucket>/<key>. They are copied into the registry; "
        "immutable.",
        json_schema_extra=immutable("spec.source"),
    )
    run_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="The run that produced the model, when known.",
    )
    description: str = Field(default="", max_length=100000, description="Free text.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Registry tags (keys up to 250 characters, values up to 100000).",
        json_schema_extra={"maxProperties": 1000},
    )
    stage: Stage = Field(
        default=Stage.NONE, description="None, Staging, Production or Archived (MLflow stages)."
    )


class Signature(Model):
    """The model's signature as MLflow writes it: each part a JSON string."""

    inputs: str | None = Field(default=None, description="Input schema (JSON).")
    outputs: str | None = Field(default=None, description="Output schema (JSON).")
    params: str | None = Field(default=None, description="Inference parameters schema (JSON).")


class ModelVersionStatus(Model):
    """The registration's outcome: the version number, the registry copy and its MLmodel."""

    version: int | None = Field(
        default=None, ge=1, description="The version number, given out by the operator."
    )
    phase: ModelVersionPhase | None = Field(
        default=None, description="PendingRegistration, Ready or FailedRegistration."
    )
    storage_uri: str | None = Field(
        default=None, description="The registry's immutable copy of the model (s3:// URI)."
    )
    flavors: list[str] = Field(
        default_factory=list, description="Flavors in the model's MLmodel, for example sklearn."
    )
    signature: Signature | None = Field(default=None, description="The model's signature.")
    message: str | None = Field(
        default=None, max_length=4096, description="Why registration failed, when it did."
    )
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = observed_generation_field()


class ModelVersion(Model):
    api_version: str = Field(default="mlkube.io/v1alpha1", description="mlkube.io/v1alpha1")
    kind: str = Field(default="ModelVersion", description="ModelVersion")
    metadata: ObjectMeta
    spec: ModelVersionSpec
    status: ModelVersionStatus = Field(default_factory=ModelVersionStatus)
