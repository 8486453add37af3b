"""ModelDeployment: a registered model served over HTTP by a Deployment behind a Service."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from mlkube.api.common import (
    Condition,
    EnvVar,
    KubeName,
    Model,
    ObjectMeta,
    ResourceRequirements,
    conditions_field,
    observed_generation_field,
)
from mlkube.api.model_version import Stage
from mlkube.api.registered_model import AliasName


class DeploymentPhase(StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    READY = "Ready"
    FAILED = "Failed"


class ModelRef(Model):
    """A registered model and exactly one of version, alias or stage."""

    exactly_one_of = (("version", "alias", "stage"),)

    name: KubeName = Field(description="Name of the RegisteredModel in this namespace.")
    version: int | None = Field(default=None, ge=1, description="A fixed version number.")
    alias: AliasName | None = Field(
        default=None, description="An alias such as champion; the deployment follows it."
    )
    stage: Stage | None = Field(
        default=None,
        description="The latest version in this stage (Staging or Production); followed.",
    )


class Autoscaling(Model):
    """A HorizontalPodAutoscaler on CPU utilisation; replaces spec.replicas."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.minReplicas <= self.maxReplicas",
                    "message": "minReplicas must not exceed maxReplicas",
                }
            ]
        }
    )

    min_replicas: int = Field(default=1, ge=1, description="Fewest replicas.")
    max_replicas: int = Field(ge=1, description="Most replicas.")
    target_cpu_utilization_percentage: int = Field(
        default=80, ge=1, le=100, description="Average CPU use to aim for, in percent."
    )

    @model_validator(mode="after")
    def _min_le_max(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must not exceed maxReplicas")
        return self


class Canary(Model):
    """A second model version that receives a share of the requests."""

    model: ModelRef = Field(description="The canary's model reference.")
    traffic_percent: int = Field(
        ge=0, le=100, description="Share of requests, in percent, that the canary answers."
    )


class ServerSettings(Model):
    """How the scoring server (`mlkube serve`) runs."""

    image: str | None = Field(
        default=None, min_length=1, description="Image; defaults to the operator's serving image."
    )
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes per replica.")
    port: int = Field(default=8080, ge=1, le=65535, description="Container port to listen on.")


class ModelDeploymentSpec(Model):
    """What to serve and how: the model reference, replicas or autoscaling, and a canary."""

    model: ModelRef = Field(description="What to serve.")
    replicas: int = Field(default=1, ge=0, description="Pods serving the model (no autoscaling).")
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of each serving container."
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=100,
        description="Extra environment variables of the serving container.",
    )
    autoscaling: Autoscaling | None = Field(
        default=None, description="Scale on CPU between min and max replicas."
    )
    canary: Canary | None = Field(default=None, description="A canary version and its share.")
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="Scoring server settings."
    )


class ModelDeploymentStatus(Model):
    """What is being served, by how many ready replicas, and where."""

    phase: DeploymentPhase | None = Field(
        default=None, description="Pending, Progressing, Ready or Failed."
    )
    served_version: int | None = Field(default=None, ge=1, description="Version being served.")
    canary_version: int | None = Field(default=None, ge=1, description="Canary version, if any.")
    ready_replicas: int = Field(default=0, ge=0, description="Replicas ready to answer.")
    url: str | None = Field(default=None, description="In-cluster URL of the scoring Service.")
    message: str | None = Field(default=None, max_length=4096, description="Why, in words.")
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = observed_generation_field()


class ModelDeployment(Model):
    api_version: str = Field(default="mlkube.io/v1alpha1", description="mlkube.io/v1alpha1")
    kind: str = Field(default="ModelDeployment", description="ModelDeployment")
    metadata: ObjectMeta
    spec: ModelDeploymentSpec
    status: ModelDeploymentStatus = Field(default_factory=ModelDeploymentStatus)
