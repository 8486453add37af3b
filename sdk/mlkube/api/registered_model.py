"""RegisteredModel: a named model in the registry, with its aliases."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from mlkube.api.common import (
    Condition,
    Model,
    ObjectMeta,
    conditions_field,
    observed_generation_field,
)

AliasName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_-]+$"),
]


class RegisteredModelSpec(Model):
    """A model in the registry; its versions are ModelVersion objects naming it in spec.model."""

    display_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="The model's MLflow name when it is not a valid Kubernetes name (for example "
        "'Churn Classifier'); defaults to metadata.name.",
    )
    description: str = Field(default="", max_length=100000, description="Free text.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Registry tags (keys up to 250 characters, values up to 100000).",
        json_schema_extra={"maxProperties": 1000},
    )
    aliases: dict[AliasName, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Alias -> version number, for example {champion: 3}. A ModelDeployment that "
        "names an alias follows it when it moves.",
        json_schema_extra={"maxProperties": 1000},
    )


class RegisteredModelStatus(Model):
    """What the operator observed about the model and its versions."""

    latest_version: int = Field(
        default=0, ge=0, description="The highest version number given out so far (0: none)."
    )
    version_claims: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Version numbers given out, by ModelVersion uid. Numbers are claimed here "
        "with compare-and-swap, so concurrent registrations get distinct numbers and a retried "
        "claim gets the same one.",
    )
    conditions: list[Condition] = conditions_field()
    observed_generation: int | None = observed_generation_field()


class RegisteredModel(Model):
    api_version: str = Field(default="mlkube.io/v1alpha1", description="mlkube.io/v1alpha1")
    kind: str = Field(default="RegisteredModel", description="RegisteredModel")
    metadata: ObjectMeta
    spec: RegisteredModelSpec = Field(default_factory=RegisteredModelSpec)
    status: RegisteredModelStatus = Field(default_factory=RegisteredModelStatus)
