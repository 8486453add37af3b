"""Experiment: a named group of runs, the MLflow experiment as a Kubernetes resource."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from mlkube.api.common import (
    Condition,
    Model,
    ObjectMeta,
    conditions_field,
    observed_generation_field,
)


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ExperimentSpec(Model):
    """What the user asks for: an experiment to group runs under."""

    display_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="The experiment's MLflow name when it is not a valid Kubernetes name "
        "(for example '/Users/ada/churn'); defaults to metadata.name.",
    )
    description: str = Field(
        default="",
        max_length=20000,
        description="Free text shown in the UI and by kubectl describe.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="MLflow experiment tags: keys of at most 250 characters, values of at most "
        "20000.",
        json_schema_extra={"maxProperties": 1000},
    )
    artifact_location: str | None = Field(
        default=None,
        pattern=r"^s3://[^/]+(/.*)?$",
        description="Where the runs' artifacts go, an s3:// URI. Defaults to "
        "mlflow-artifacts:/<experimentId>, served by the tracking server's artifact proxy and "
        "stored under <namespace>/experiments/<experimentId>/ in mlkube's bucket.",
    )


class ExperimentStatus(Model):
    """What the operator and the tracking server observed."""

    experiment_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]+$",
        description="The MLflow experiment id, unique across namespaces ('0' is reserved for "
        "each namespace's Default experiment).",
    )
    artifact_location: str | None = Field(
        default=None, description="The resolved artifact location of the experiment's runs."
    )
    lifecycle_stage: LifecycleStage = Field(
        default=LifecycleStage.ACTIVE,
        description="active, or deleted when the experiment was deleted through the MLflow API "
        "(it can be restored).",
    )
    creation_time: datetime | None = Field(
        default=None, description="When the experiment was created through the MLflow API."
    )
    last_update_time: datetime | None = Field(
        default=None, description="When its name, tags or lifecycle stage last changed."
    )
    runs: int = Field(default=0, ge=0, description="Number of runs in the experiment.")
    active_runs: int = Field(default=0, ge=0, description="Runs that are Pending or Running.")
    succeeded_runs: int = Field(default=0, ge=0, description="Runs that ended Succeeded.")
    failed_runs: int = Field(default=0, ge=0, description="Runs that ended Failed or Killed.")
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = observed_generation_field()


class Experiment(Model):
    api_version: str = Field(default="mlkube.io/v1alpha1", description="mlkube.io/v1alpha1")
    kind: str = Field(default="Experiment", description="Experiment")
    metadata: ObjectMeta
    spec: ExperimentSpec = Field(default_factory=ExperimentSpec)
    status: ExperimentStatus = Field(default_factory=ExperimentStatus)
