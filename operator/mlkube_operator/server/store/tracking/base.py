"""The tracking store contract: what every implementation does, stated once, tested once.

Every method takes the workspace (a Kubernetes namespace) first. Ids are global: experiment ids
are unique across workspaces except ``"0"``, each workspace's Default experiment; run ids are
32 hex digits. Entities from ``entities`` are the only currency. Errors are ``MlflowError``s with
MLflow's codes. Inputs arrive already checked against MLflow's size limits (``limits``); the
store enforces the semantic rules (existence, lifecycle, immutable params).

A method returns only once what it wrote is durable, and a later read through the same store
object sees it (read-your-writes). ``tests/contracts/tracking.py`` is the executable form of
these docstrings; every implementation must pass it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from mlkube_operator.server.entities import (
    DatasetInput,
    DatasetSummary,
    Experiment,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    ModelOutput,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from mlkube_operator.server.errors import invalid
from mlkube_operator.server.limits import MAX_DATASET_SUMMARIES
from mlkube_operator.server.search import tracking as search
from mlkube_operator.server.search.paging import Page

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


class TrackingStore(ABC):
    """Experiments, runs, metric histories and logged models of MLflow, per workspace."""

    # -- experiments -------------------------------------------------------------------------

    @abstractmethod
    def create_experiment(
        self, workspace: str, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        """Create an active experiment and return its new id.

        RESOURCE_ALREADY_EXISTS when an experiment (active or deleted) of that name exists in
        the workspace. ``artifact_location`` None means the store's default for the new id.
        """

    @abstractmethod
    def get_experiment(self, workspace: str, experiment_id: str) -> Experiment:
        """The experiment, active or deleted. ``"0"`` is the workspace's Default experiment, which
        always exists (created on first use). RESOURCE_DOES_NOT_EXIST otherwise."""

    @abstractmethod
    def get_experiment_by_name(self, workspace: str, name: str) -> Experiment:
        """The experiment named ``name`` (active or deleted); RESOURCE_DOES_NOT_EXIST if none.
        ``"Default"`` finds the Default experiment even before its first use."""

    @abstractmethod
    def list_experiments(self, workspace: str, view_type: ViewType) -> list[Experiment]:
        """Every experiment of the workspace in ``view_type`` (Default included), in no
        particular order: search filters, orders and pages them."""

    @abstractmethod
    def rename_experiment(self, workspace: str, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment. INVALID_STATE if it is deleted, RESOURCE_ALREADY_EXISTS
        if the name is taken."""

    @abstractmethod
    def delete_experiment(self, workspace: str, experiment_id: str) -> None:
        """Mark an active experiment and all its runs deleted (restorable).
        RESOURCE_DOES_NOT_EXIST if it is not active; INVALID_PARAMETER_VALUE for the Default."""

    @abstractmethod
    def restore_experiment(self, workspace: str, experiment_id: str) -> None:
        """Mark a deleted experiment and its runs active again; RESOURCE_DOES_NOT_EXIST if it is
        not deleted."""

    @abstractmethod
    def set_experiment_tag(self, workspace: str, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) a tag of an active experiment; INVALID_STATE if deleted."""

    @abstractmethod
    def delete_experiment_tag(self, workspace: str, experiment_id: str, key: str) -> None:
        """Remove a tag; RESOURCE_DOES_NOT_EXIST if the experiment has no such tag."""

    # -- runs --------------------------------------------------------------------------------

    @abstractmethod
    def create_run(
        self,
        workspace: str,
        experiment_id: str,
        *,
        user_id: str,
        run_name: str | None,
        start_time: int | None,
        tags: dict[str, str],
    ) -> Run:
        """Start a RUNNING run in an active experiment (INVALID_STATE if it is deleted).

        The run name is ``run_name``, else the ``mlflow.runName`` tag, else a generated one;
        the ``mlflow.runName`` tag is always set to it (INVALID_PARAMETER_VALUE if both are
        given and differ). The artifact URI is ``mlflow-artifacts:/<exp>/<run>/artifacts``
        unless the experiment has an explicit artifact location.
        """

    @abstractmethod
    def get_run(self, workspace: str, run_id: str) -> Run:
        """The run with its latest metrics, params, tags, inputs and outputs, active or
        deleted; RESOURCE_DOES_NOT_EXIST if the workspace has no such run."""

    @abstractmethod
    def update_run(
        self,
        workspace: str,
        run_id: str,
        status: RunStatus | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        """Change status, end time and/or name (also the ``mlflow.runName`` tag) of an active run;
        fields given as None keep their value. INVALID_STATE if the run is deleted."""

    @abstractmethod
    def delete_run(self, workspace: str, run_id: str) -> None:
        """Mark a run deleted (idempotent)."""

    @abstractmethod
    def restore_run(self, workspace: str, run_id: str) -> None:
        """Mark a deleted run active again (idempotent)."""

    @abstractmethod
    def log_batch(
        self,
        workspace: str,
        run_id: str,
        metrics: Sequence[Metric],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        """Record metrics (appended to their histories, the latest kept per key by step, then
        timestamp, then value), params and tags of an active run, all or nothing.

        INVALID_PARAMETER_VALUE if a param already has a different value (the same value again
        is accepted); INVALID_STATE if the run is deleted. Metrics carrying ``model_id`` are
        also recorded on that logged model.
        """

    @abstractmethod
    def delete_tag(self, workspace: str, run_id: str, key: str) -> None:
        """Remove a run tag; RESOURCE_DOES_NOT_EXIST if the run has no such tag."""

    @abstractmethod
    def log_inputs(
        self,
        workspace: str,
        run_id: str,
        datasets: Sequence[DatasetInput],
        model_ids: Sequence[str],
    ) -> None:
        """Add dataset inputs (one per name, digest and context; a repeat is ignored) and model
        inputs to an active run."""

    @abstractmethod
    def log_outputs(self, workspace: str, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        """Add model outputs (logged models the run produced, at a step) to a run."""

    @abstractmethod
    def list_runs(
        self, workspace: str, experiment_ids: Sequence[str], view_type: ViewType
    ) -> list[Run]:
        """Every run of the given experiments whose lifecycle stage ``view_type`` admits, in no
        particular order. Unknown experiment ids contribute nothing."""

    @abstractmethod
    def get_metric_history(self, workspace: str, run_id: str, key: str) -> list[Metric]:
        """Every value logged for ``key``, ordered by timestamp, step and value, identical points
        collapsed (as MLflow's SQL stores do). Empty if none, also for a run that does not exist
        (MLflow answers so too)."""

    # -- logged models (MLflow 3) -------------------------------------------------------------

    @abstractmethod
    def create_logged_model(
        self,
        workspace: str,
        experiment_id: str,
        *,
        name: str | None,
        source_run_id: str | None,
        model_type: str | None,
        params: dict[str, str],
        tags: dict[str, str],
    ) -> LoggedModel:
        """A new PENDING logged model ``m-<32 hex>`` in an active experiment, with artifact URI
        ``mlflow-artifacts:/<exp>/models/<model_id>/artifacts``; a name is generated if None."""

    @abstractmethod
    def get_logged_model(self, workspace: str, model_id: str) -> LoggedModel:
        """The logged model; RESOURCE_DOES_NOT_EXIST if unknown or deleted."""

    @abstractmethod
    def finalize_logged_model(
        self, workspace: str, model_id: str, status: LoggedModelStatus
    ) -> LoggedModel:
        """Set the model's status (READY or UPLOAD_FAILED) and return it."""

    @abstractmethod
    def set_logged_model_tags(
        self, workspace: str, model_id: str, tags: dict[str, str]
    ) -> LoggedModel:
        """Set (or overwrite) tags and return the model."""

    @abstractmethod
    def delete_logged_model_tag(self, workspace: str, model_id: str, key: str) -> None:
        """Remove a tag; RESOURCE_DOES_NOT_EXIST if the model has no such tag."""

    @abstractmethod
    def log_logged_model_params(
        self, workspace: str, model_id: str, params: dict[str, str]
    ) -> None:
        """Add params to the model (a different value for an existing key is an error)."""

    @abstractmethod
    def delete_logged_model(self, workspace: str, model_id: str) -> None:
        """Delete the model; later reads answer RESOURCE_DOES_NOT_EXIST."""

    @abstractmethod
    def list_logged_models(
        self, workspace: str, experiment_ids: Sequence[str]
    ) -> list[LoggedModel]:
        """Every (undeleted) logged model of the given experiments, in no particular order."""

    # -- search (composed from the above: one definition for every store) ---------------------

    def search_experiments(
        self,
        workspace: str,
        view_type: ViewType,
        *,
        filter_string: str | None,
        order_by: Sequence[str],
        max_results: int,
        page_token: str | None,
    ) -> Page[Experiment]:
        """One page of the experiments in ``view_type`` that match ``filter_string`` (MLflow's
        search grammar), in ``order_by`` order, then newest first, then by id.
        INVALID_PARAMETER_VALUE for a bad filter, order_by or page token (even if nothing
        matches)."""
        query = search.experiments_query(filter_string, order_by, page_token)
        return query.run(self.list_experiments(workspace, view_type), max_results)

    def search_runs(
        self,
        workspace: str,
        experiment_ids: Sequence[str],
        view_type: ViewType,
        *,
        filter_string: str | None,
        order_by: Sequence[str],
        max_results: int,
        page_token: str | None,
    ) -> Page[Run]:
        """One page of the runs of ``experiment_ids`` in ``view_type`` that match the filter, in
        ``order_by`` order, then newest start first, then by id; errors as search_experiments."""
        query = search.runs_query(filter_string, order_by, page_token)
        return query.run(self.list_runs(workspace, experiment_ids, view_type), max_results)

    def search_logged_models(
        self,
        workspace: str,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None,
        order_by: Sequence[search.OrderField],
        max_results: int,
        page_token: str | None,
    ) -> Page[LoggedModel]:
        """One page of the logged models of ``experiment_ids`` that match the filter, ordered by
        ``order_by`` (field name, ascending) pairs, then newest first, then by id.
        INVALID_PARAMETER_VALUE also when ``experiment_ids`` is empty."""
        query = search.logged_models_query(filter_string, order_by, page_token)
        if not experiment_ids:
            raise invalid("'experiment_ids' must name at least one experiment")
        return query.run(self.list_logged_models(workspace, experiment_ids), max_results)

    def dataset_summaries(
        self, workspace: str, experiment_ids: Sequence[str]
    ) -> list[DatasetSummary]:
        """Each distinct (experiment, dataset name, digest, context) among the inputs of the
        runs of ``experiment_ids``, deleted runs included (MLflow keeps their inputs too): by
        experiment in the order given, then runs oldest first, then a run's inputs in logged
        order; at most MAX_DATASET_SUMMARIES. Unknown experiments contribute nothing."""
        runs = self.list_runs(workspace, experiment_ids, ViewType.ALL)
        rank = {experiment_id: i for i, experiment_id in enumerate(dict.fromkeys(experiment_ids))}

        def order(run: Run) -> tuple[int, int, str]:
            return rank.get(run.info.experiment_id, 0), run.info.start_time or 0, run.info.run_id

        runs.sort(key=order)
        found: dict[DatasetSummary, None] = {}
        for run in runs:
            for d in run.datasets:
                found[DatasetSummary(run.info.experiment_id, d.name, d.digest, d.context)] = None
                if len(found) == MAX_DATASET_SUMMARIES:
                    return list(found)
        return list(found)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027  (optional hook; most stores hold nothing to release)
        """Release background resources (watches, threads); the store is unusable after."""
