"""Types shared by every mlkube resource: the base model, names, conditions, env and resources."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

GROUP = "mlkube.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# A DNS-1123 subdomain, the rule for most Kubernetes object names.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# A DNS-1123 label: names that end up in Service, Job or label values.
LABEL_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

KubeName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=253, pattern=NAME_PATTERN),
    Field(
        description="A Kubernetes object name: lower-case letters, digits, '-' and '.', "
        "starting and ending with a letter or digit, at most 253 characters."
    ),
]
LabelName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=LABEL_NAME_PATTERN),
    Field(
        description="A DNS label: lower-case letters, digits and '-', starting and ending with a "
        "letter or digit, at most 63 characters."
    ),
]
# MLflow's limits (see shared/MLFLOW-PROTOCOL.md).
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=250)]


class Model(BaseModel):
    """Base of every resource model: camelCase on the wire, snake_case in Python, no unknown keys.

    ``exactly_one_of`` names groups of optional fields of which exactly one must be set; the rule
    is checked here and also emitted as a CEL rule into the CRD, so the API server enforces the
    same thing (one declaration, two enforcers).
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        validate_default=True,
    )
    exactly_one_of: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @model_validator(mode="after")
    def _check_exactly_one(self) -> Self:
        for group in self.exactly_one_of:
            chosen = [wire_name(type(self), f) for f in group if getattr(self, f) is not None]
            if len(chosen) != 1:
                names = ", ".join(wire_name(type(self), f) for f in group)
                got = f" (got {', '.join(chosen)})" if chosen else " (got none)"
                raise ValueError(f"set exactly one of {names}{got}")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for group in cls.exactly_one_of:
            names = [wire_name(cls, f) for f in group]
            rule = "[" + ", ".join(f"has(self.{n})" for n in names) + "].filter(x, x).size() == 1"
            target.setdefault("x-kubernetes-validations", []).append(
                {"rule": rule, "message": f"set exactly one of {', '.join(names)}"}
            )
        return schema

    def to_wire(self) -> dict[str, Any]:
        """The camelCase dict Kubernetes stores, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def wire_name(model: type[BaseModel], field: str) -> str:
    """The camelCase name a field has in Kubernetes."""
    return model.model_fields[field].alias or field


def immutable(what: str) -> dict[str, Any]:
    """Schema extras making a field immutable once set (a CEL transition rule)."""
    return {
        "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": f"{what} is immutable; create a new object"}
        ]
    }


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(Model):
    """One aspect of a resource's state, following the Kubernetes API conventions."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        description="Type of the condition in CamelCase, for example Ready or Succeeded.",
    )
    status: ConditionStatus = Field(description="One of True, False or Unknown.")
    reason: str = Field(
        default="",
        max_length=1024,
        description="A CamelCase word saying why the condition last changed, for example "
        "InvalidSpec or JobCompleted.",
    )
    message: str = Field(
        default="",
        max_length=32768,
        description="A human-readable explanation of the last change, with details.",
    )
    last_transition_time: datetime | None = Field(
        default=None, description="When the condition last changed from one status to another."
    )
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The metadata.generation of the resource that this condition was set for.",
    )


def conditions_field() -> Any:
    return Field(
        default_factory=list,
        description="The latest observations of the resource's state (Ready and kind-specific "
        "types), as in the Kubernetes API conventions.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


def observed_generation_field() -> Any:
    return Field(
        default=None,
        ge=0,
        description="The metadata.generation that the controller last acted on.",
    )


class ObjectMeta(Model):
    """The part of Kubernetes' ObjectMeta that mlkube reads; other keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: KubeName = Field(description="The object's name, unique in its namespace.")
    namespace: str | None = Field(default=None, description="The namespace holding the object.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations.")
    uid: str | None = Field(default=None, description="Unique id assigned by the API server.")
    resource_version: str | None = Field(default=None, description="Optimistic-lock version.")
    generation: int | None = Field(default=None, description="Incremented on each spec change.")
    creation_timestamp: datetime | None = Field(default=None, description="Creation time.")


Quantity = Annotated[
    int | str,
    Field(
        description="A Kubernetes quantity such as 500m, 2 or 1Gi.",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    ),
]


class ResourceRequirements(Model):
    """Compute resources for each container, as in a Pod's container spec."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict,
        description="Minimum resources the container needs, for example {cpu: 500m, memory: 1Gi}.",
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict,
        description="Maximum resources the container may use, for example {memory: 2Gi}.",
    )


class KeySelector(Model):
    """Selects one key of a Secret or ConfigMap."""

    name: KubeName = Field(description="Name of the Secret or ConfigMap in the same namespace.")
    key: str = Field(min_length=1, description="The key whose value becomes the variable's.")
    optional: bool = Field(default=False, description="Whether the key or object may be missing.")


class FieldSelector(Model):
    field_path: str = Field(
        min_length=1,
        max_length=256,
        description="Pod field to read, for example metadata.name or status.podIP.",
    )


class EnvVarSource(Model):
    """Where an environment variable's value comes from; exactly one source is set."""

    exactly_one_of = (("secret_key_ref", "config_map_key_ref", "field_ref"),)

    secret_key_ref: KeySelector | None = Field(default=None, description="A key of a Secret.")
    config_map_key_ref: KeySelector | None = Field(
        default=None, description="A key of a ConfigMap."
    )
    field_ref: FieldSelector | None = Field(default=None, description="A field of the Pod.")


class EnvVar(Model):
    """An environment variable for the containers, as in a Pod's container spec."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.value) && has(self.valueFrom))",
                    "message": "set value or valueFrom, not both",
                }
            ]
        }
    )

    name: str = Field(
        min_length=1,
        pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$",
        description="Variable name.",
    )
    value: str | None = Field(default=None, description="Literal value.")
    value_from: EnvVarSource | None = Field(
        default=None, description="Take the value from a Secret, a ConfigMap or the Pod."
    )

    @model_validator(mode="after")
    def _value_or_value_from(self) -> Self:
        if self.value is not None and self.value_from is not None:
            raise ValueError("set value or valueFrom, not both")
        return self
