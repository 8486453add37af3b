"""The runs of the Kubernetes tracking store: Run resources (tracking-only Runs for client-made
runs), written through the run writer (run_writer.py) in the durable order it documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mlkube import layout
from mlkube.api.experiment import LifecycleStage as Stage
from mlkube.api.kinds import RUN
from mlkube.api.run import RunPhase
from mlkube_operator.kube import KubeError, NotFound
from mlkube_operator.server.entities import (
    DatasetInput,
    LifecycleStage,
    Metric,
    ModelOutput,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from mlkube_operator.server.errors import not_found
from mlkube_operator.server.store.shared.clock import now_ms
from mlkube_operator.server.store.shared.errors import unavailable
from mlkube_operator.server.store.tracking import rules
from mlkube_operator.server.store.tracking.base import DEFAULT_EXPERIMENT_ID
from mlkube_operator.server.store.tracking.kube import convert
from mlkube_operator.server.store.tracking.kube.cache import ExperimentRecord, RunRecord
from mlkube_operator.server.store.tracking.kube.drafts import RunDraft
from mlkube_operator.server.store.tracking.kube.experiments import KubeExperiments
from mlkube_operator.server.store.tracking.kube.extra import Extra
from mlkube_operator.server.store.tracking.kube.logged_models import metrics_adder
from mlkube_operator.server.store.tracking.kube.values import from_ms

Obj = dict[str, Any]


class KubeRuns(KubeExperiments):
    def _record(self, workspace: str, run_id: str) -> RunRecord:
        record = self._known_run(workspace, run_id)
        if record is None or record.entity is None:
            raise not_found(f"no run with id {run_id!r} in workspace {workspace!r}")
        return record

    def _known_run(self, workspace: str, run_id: str) -> RunRecord | None:
        """The run from the cache, or, when the watch has not brought it yet, from the API
        server: another replica may have created it a moment ago and the client's next call
        reached this one first (issue 17's soak). The Runs the server creates are named by
        their run id; a project Run's id is in the cache long before its code logs."""
        record = self.cache.run(workspace, run_id)
        if record is not None or not layout.RUN_ID.fullmatch(run_id):
            return record
        try:
            obj = self.client.get(RUN, workspace, run_id)
        except NotFound:
            return None
        except KubeError as err:
            raise unavailable(err) from None
        self.cache.put_run(obj, None)
        return self.cache.run(workspace, run_id)

    def _write(self, workspace: str, run_id: str, apply: Callable[[RunDraft], Any]) -> Any:
        record = self._record(workspace, run_id)
        return self._submit(workspace, record.resource.metadata.name, apply)

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
        experiment_record = self._experiment(workspace, experiment_id)
        experiment = self._entity(experiment_record)
        rules.require_active_experiment(experiment, "creating runs in it")
        name, all_tags = rules.run_name_and_tags(run_name, tags)
        run_id = rules.new_run_id()
        body = {
            "apiVersion": "mlkube.io/v1alpha1",
            "kind": "Run",
            "metadata": {
                "name": run_id,
                "labels": {layout.EXPERIMENT_ID_LABEL: experiment_id, layout.RUN_ID_LABEL: run_id},
            },
            "spec": {"experiment": experiment_record.resource.metadata.name, "runName": name[:250]},
        }
        try:
            obj = self.client.create(RUN, workspace, body)
        except KubeError as err:
            raise unavailable(err) from None
        self.cache.put_run(obj, Extra())
        fields = {
            "runId": run_id,
            "phase": RunPhase.RUNNING.value,
            "startTime": from_ms(start_time if start_time is not None else now_ms()),
            "artifactUri": rules.run_artifact_uri(experiment, run_id),
            "lifecycleStage": Stage.ACTIVE.value,
            "userId": user_id,
        }

        def start(draft: RunDraft) -> None:
            draft.set_fields(fields)
            draft.set_tags(all_tags)

        self._submit(workspace, run_id, start)
        return self.get_run(workspace, run_id)

    def get_run(self, workspace: str, run_id: str) -> Run:
        entity = self._record(workspace, run_id).entity
        assert entity is not None
        return entity

    def update_run(
        self,
        workspace: str,
        run_id: str,
        status: RunStatus | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        def update(draft: RunDraft) -> None:
            draft.require_active()
            if run_name:
                draft.set_tags({rules.RUN_NAME_TAG: run_name})
            if draft.operated:
                return  # the operator owns a project run's (and a sweep parent's) phase and times
            fields: Obj = {}
            if status is not None:
                fields["phase"] = convert.STATUS_TO_PHASE[status].value
            if end_time is not None:
                fields["endTime"] = from_ms(end_time)
            draft.set_fields(fields)

        self._write(workspace, run_id, update)
        return self.get_run(workspace, run_id).info

    def delete_run(self, workspace: str, run_id: str) -> None:
        self._write(workspace, run_id, lambda d: d.set_stage(LifecycleStage.DELETED))

    def restore_run(self, workspace: str, run_id: str) -> None:
        self._write(workspace, run_id, lambda d: d.set_stage(LifecycleStage.ACTIVE))

    def log_batch(
        self,
        workspace: str,
        run_id: str,
        metrics: Sequence[Metric],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        model_ids = {m.model_id for m in metrics if m.model_id}
        for model_id in model_ids:
            self.models.get(workspace, model_id)

        def log(draft: RunDraft) -> None:
            draft.require_active()
            added = rules.merged_params(draft.all_params(), params)
            draft.put_params(added)
            draft.set_tags(tags)
            draft.add_metrics(metrics)

        self._write(workspace, run_id, log)
        for model_id in model_ids:
            points = [m for m in metrics if m.model_id == model_id]
            self.models.update(workspace, model_id, metrics_adder(points, run_id))

    def delete_tag(self, workspace: str, run_id: str, key: str) -> None:
        def delete(draft: RunDraft) -> None:
            draft.require_active()
            draft.delete_tag(key)

        self._write(workspace, run_id, delete)

    def log_inputs(
        self,
        workspace: str,
        run_id: str,
        datasets: Sequence[DatasetInput],
        model_ids: Sequence[str],
    ) -> None:
        def log(draft: RunDraft) -> None:
            draft.require_active()
            draft.add_inputs(datasets, model_ids)

        self._write(workspace, run_id, log)

    def log_outputs(self, workspace: str, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        def log(draft: RunDraft) -> None:
            draft.require_active()
            draft.add_outputs(outputs)

        self._write(workspace, run_id, log)

    def list_runs(
        self, workspace: str, experiment_ids: Sequence[str], view_type: ViewType
    ) -> list[Run]:
        out: list[Run] = []
        for experiment_id in dict.fromkeys(experiment_ids):
            if experiment_id == DEFAULT_EXPERIMENT_ID:
                record: ExperimentRecord | None = self._default(workspace)
            else:
                record = self.cache.experiment(workspace, experiment_id)
            if record is None:
                continue
            for run in self.cache.runs_of(workspace, record.resource.metadata.name):
                entity = run.entity
                if entity is None or not view_type.admits(entity.info.lifecycle_stage):
                    continue
                if entity.info.experiment_id != experiment_id:
                    entity = self._record(workspace, entity.info.run_id).entity
                    assert entity is not None
                out.append(entity)
        return out

    def get_metric_history(self, workspace: str, run_id: str, key: str) -> list[Metric]:
        record = self._known_run(workspace, run_id)
        if record is None or record.entity is None:
            return []
        info = record.entity.info
        prefix = layout.metrics_prefix(workspace, info.experiment_id, info.run_id)
        try:
            return self.history.read(prefix, key)
        except OSError as err:
            raise unavailable(err) from None
