"""The registry entities every registry store returns and every handler serializes.

MLflow's data model for registered models and model versions, as frozen dataclasses. Times are
milliseconds since the epoch; version numbers are ints here and strings only on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from mlkube.api.model_version import Stage

__all__ = ["ModelVersion", "NewVersion", "RegisteredModel", "Stage", "VersionStatus"]


class VersionStatus(StrEnum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: Stage
    source: str
    status: VersionStatus
    description: str = ""
    status_message: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    # Where the registry copies the files from (runs:/, models:/<modelId> or s3://); ``source``
    # is what the client sent, which may be an mlflow-artifacts:/ URI of the same files.
    storage_source: str = ""
    # The registry's own immutable copy (s3://...) once READY, for stores that keep one.
    storage_location: str | None = None


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    # The highest version in each stage (MLflow's latest_versions).
    latest_versions: tuple[ModelVersion, ...] = ()


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to create, already checked and resolved at the HTTP edge (sources.py)."""

    source: str
    storage_source: str
    run_id: str | None = None
    model_id: str | None = None
    run_link: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
