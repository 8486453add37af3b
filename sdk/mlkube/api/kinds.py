"""The five mlkube kinds: how each is named, printed and described in its CRD."""

from __future__ import annotations

from dataclasses import dataclass

from mlkube.api.common import GROUP, VERSION, Model
from mlkube.api.experiment import Experiment, ExperimentSpec, ExperimentStatus
from mlkube.api.model_deployment import ModelDeployment, ModelDeploymentSpec, ModelDeploymentStatus
from mlkube.api.model_version import ModelVersion, ModelVersionSpec, ModelVersionStatus
from mlkube.api.registered_model import (
    RegisteredModel,
    RegisteredModelSpec,
    RegisteredModelStatus,
)
from mlkube.api.run import Run, RunSpec, RunStatus
from mlkube.api.sweep import Sweep, SweepSpec, SweepStatus


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str
    priority: int = 0
    format: str | None = None


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation.")
READY = PrinterColumn(
    "Ready", "string", '.status.conditions[?(@.type=="Ready")].status', "Ready condition.", 1
)
MESSAGE = PrinterColumn("Message", "string", ".status.message", "Why, in words.", 1)


@dataclass(frozen=True)
class Kind:
    """One custom resource kind of group mlkube.io."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    resource: type[Model]
    spec: type[Model]
    status: type[Model]
    columns: tuple[PrinterColumn, ...]
    spec_required: bool = False

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group(self) -> str:
        return GROUP

    @property
    def version(self) -> str:
        return VERSION

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


EXPERIMENT = Kind(
    kind="Experiment",
    plural="experiments",
    short_names=("exp", "mlexp"),
    description="An MLflow experiment: a named group of runs. Every namespace has one named "
    "default (MLflow's Default experiment, id 0).",
    resource=Experiment,
    spec=ExperimentSpec,
    status=ExperimentStatus,
    columns=(
        PrinterColumn("ID", "string", ".status.experimentId", "MLflow experiment id."),
        PrinterColumn("Runs", "integer", ".status.runs", "Number of runs."),
        PrinterColumn("Active", "integer", ".status.activeRuns", "Pending or running runs.", 1),
        PrinterColumn("Stage", "string", ".status.lifecycleStage", "active or deleted.", 1),
        AGE,
    ),
)

RUN = Kind(
    kind="Run",
    plural="runs",
    short_names=("mlrun",),
    description="One execution of an MLflow project's entry point as a Kubernetes Job, or a "
    "tracking-only run created by an MLflow client (no spec.project). Holds the params, latest "
    "metrics and tags the code logged.",
    resource=Run,
    spec=RunSpec,
    status=RunStatus,
    columns=(
        PrinterColumn("Experiment", "string", ".spec.experiment", "The run's experiment."),
        PrinterColumn("Phase", "string", ".status.phase", "Pending, Running, Succeeded, ..."),
        PrinterColumn("Started", "date", ".status.startTime", "When the run started."),
        PrinterColumn("Duration", "string", ".status.duration", "How long it ran."),
        AGE,
        PrinterColumn("Run ID", "string", ".status.runId", "MLflow run id.", 1),
        PrinterColumn("Job", "string", ".status.jobName", "The run's Job.", 1),
        MESSAGE,
    ),
)

REGISTERED_MODEL = Kind(
    kind="RegisteredModel",
    plural="registeredmodels",
    short_names=("rmodel", "regmodel"),
    description="A model in the MLflow model registry. Its versions are ModelVersion objects; "
    "spec.aliases maps alias names to version numbers.",
    resource=RegisteredModel,
    spec=RegisteredModelSpec,
    status=RegisteredModelStatus,
    columns=(
        PrinterColumn("Latest", "integer", ".status.latestVersion", "Highest version number."),
        AGE,
    ),
)

MODEL_VERSION = Kind(
    kind="ModelVersion",
    plural="modelversions",
    short_names=("mv", "mversion"),
    description="One immutable version of a registered model: the operator copies the model "
    "from spec.source into the registry, validates its MLmodel and gives it a version number.",
    resource=ModelVersion,
    spec=ModelVersionSpec,
    status=ModelVersionStatus,
    spec_required=True,
    columns=(
        PrinterColumn("Model", "string", ".spec.model", "The registered model."),
        PrinterColumn("Version", "integer", ".status.version", "Version number."),
        PrinterColumn("Stage", "string", ".spec.stage", "None, Staging, Production, Archived."),
        PrinterColumn("Phase", "string", ".status.phase", "Registration phase."),
        AGE,
        PrinterColumn("Source", "string", ".spec.source", "Where the model came from.", 1),
        MESSAGE,
    ),
)

MODEL_DEPLOYMENT = Kind(
    kind="ModelDeployment",
    plural="modeldeployments",
    short_names=("mdep", "mdeploy"),
    description="A registered model served over HTTP (MLflow's scoring protocol) by a "
    "Deployment behind a Service. Follows an alias or stage as it moves, with an optional "
    "canary.",
    resource=ModelDeployment,
    spec=ModelDeploymentSpec,
    status=ModelDeploymentStatus,
    spec_required=True,
    columns=(
        PrinterColumn("Model", "string", ".spec.model.name", "The registered model."),
        PrinterColumn("Served", "integer", ".status.servedVersion", "Version being served."),
        PrinterColumn("Ready", "integer", ".status.readyReplicas", "Ready replicas."),
        PrinterColumn("URL", "string", ".status.url", "In-cluster URL of the Service."),
        PrinterColumn("Phase", "string", ".status.phase", "Pending, Progressing, Ready, Failed."),
        PrinterColumn("Canary", "integer", ".status.canaryVersion", "Canary version.", 1),
        AGE,
    ),
)

SWEEP = Kind(
    kind="Sweep",
    plural="sweeps",
    short_names=("sw", "mlsweep"),
    description="A hyperparameter search: the operator runs trials as Runs the Sweep owns, "
    "choosing their parameters by grid, random or TPE search, stops the poor ones early, and "
    "keeps the best trial in status.best. The trials are nested under the sweep's MLflow run.",
    resource=Sweep,
    spec=SweepSpec,
    status=SweepStatus,
    spec_required=True,
    columns=(
        PrinterColumn("Algorithm", "string", ".spec.algorithm", "grid, random or tpe."),
        PrinterColumn("Progress", "string", ".status.progress", "Finished trials / maxRuns."),
        PrinterColumn("Running", "integer", ".status.running", "Trials pending or running."),
        PrinterColumn("Best", "number", ".status.best.value", "Best objective value so far."),
        PrinterColumn("Phase", "string", ".status.phase", "Running, Succeeded or Failed."),
        AGE,
        PrinterColumn("Best Run", "string", ".status.best.run", "The best trial's Run.", 1),
        PrinterColumn("Metric", "string", ".spec.objective.metric", "The objective metric.", 1),
        MESSAGE,
    ),
)

KINDS: tuple[Kind, ...] = (
    EXPERIMENT,
    RUN,
    REGISTERED_MODEL,
    MODEL_VERSION,
    MODEL_DEPLOYMENT,
    SWEEP,
)
