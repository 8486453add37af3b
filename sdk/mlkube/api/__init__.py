"""Typed models of the mlkube.io/v1alpha1 resources: the one source of truth for the CRDs."""

from mlkube.api.common import API_VERSION, GROUP, VERSION, Condition, ConditionStatus
from mlkube.api.errors import SpecError, parse
from mlkube.api.experiment import Experiment, ExperimentSpec, ExperimentStatus
from mlkube.api.kinds import KINDS, Kind
from mlkube.api.model_deployment import ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus
from mlkube.api.model_version import ModelVersion, ModelVersionSpec, ModelVersionStatus, Stage
from mlkube.api.registered_model import (
    RegisteredModel,
    RegisteredModelSpec,
    RegisteredModelStatus,
)
from mlkube.api.run import Run, RunPhase, RunSpec, RunStatus
from mlkube.api.sweep import Sweep, SweepSpec, SweepStatus

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "Condition",
    "ConditionStatus",
    "Experiment",
    "ExperimentSpec",
    "ExperimentStatus",
    "Kind",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "ModelDeploymentStatus",
    "ModelVersion",
    "ModelVersionSpec",
    "ModelVersionStatus",
    "RegisteredModel",
    "RegisteredModelSpec",
    "RegisteredModelStatus",
    "Run",
    "RunPhase",
    "RunSpec",
    "RunStatus",
    "SpecError",
    "Stage",
    "Sweep",
    "SweepSpec",
    "SweepStatus",
    "parse",
]
