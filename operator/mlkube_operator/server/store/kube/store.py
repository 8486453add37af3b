"""KubeStore: MLflow tracking on Experiment and Run resources plus object storage.

- Experiments and Runs are custom resources (tracking-only Runs for client-created runs); params,
  tags and the latest metrics live in the Run's status, metric histories, overflowing params and
  tags, dataset inputs and logged models in object storage (layout in artifacts/keys.py).
- Reads come from a watch-fed cache (cache.py) that the store's own write responses update too,
  so a client reads its own writes.
- Writes to a run go through run_writer.py: concurrent writes are coalesced into one patch, and
  each caller returns once its write is durable; a 409 makes it re-read and re-apply.
- One writer per status field: for project runs (spec.project) the operator owns phase and
  times; the store then only writes params, metrics, tags, inputs, outputs and lifecycleStage.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from mlkube.api.experiment import LifecycleStage as Stage
from mlkube.api.kinds import EXPERIMENT, RUN
from mlkube.api.run import RunPhase
from mlkube.objects import ObjectNotFound, ObjectStore
from mlkube_operator.kube import (
    AlreadyExists,
    Conflict,
    Informer,
    KubeClient,
    KubeError,
    NotFound,
)
from mlkube_operator.server.artifacts import keys
from mlkube_operator.server.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    ModelOutput,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from mlkube_operator.server.errors import (
    ErrorCode,
    MlflowError,
    already_exists,
    invalid,
    not_found,
)
from mlkube_operator.server.store import rules
from mlkube_operator.server.store.base import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    TrackingStore,
)
from mlkube_operator.server.store.kube import convert
from mlkube_operator.server.store.kube.cache import (
    ExperimentRecord,
    RunRecord,
    TrackingCache,
)
from mlkube_operator.server.store.kube.drafts import RunDraft
from mlkube_operator.server.store.kube.extra import Extra, extra_from_json
from mlkube_operator.server.store.kube.history import MetricHistory
from mlkube_operator.server.store.kube.ids import ExperimentIds
from mlkube_operator.server.store.kube.models import LoggedModels
from mlkube_operator.server.store.kube.run_writer import RunWriter, unavailable
from mlkube_operator.server.store.kube.values import from_ms

log = logging.getLogger("mlkube.server.store")
Obj = dict[str, Any]
RUN_ID_LABEL = "mlkube.io/run-id"
ATTEMPTS = 8


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class KubeStore(TrackingStore):
    def __init__(self, client: KubeClient, objects: ObjectStore, id_namespace: str) -> None:
        self.client = client
        self.objects = objects
        self.cache = TrackingCache(self._load_extra)
        self.history = MetricHistory(objects)
        self.models = LoggedModels(objects)
        self.ids = ExperimentIds(client, id_namespace, lambda: self.cache.max_experiment_id)
        self.writer = RunWriter(client, self.cache, objects, self.history)
        self.informers = [Informer(client, kind, self.cache) for kind in (EXPERIMENT, RUN)]

    def start(self, timeout: float = 60.0) -> None:
        """Start watching; return once the cache holds every Experiment and Run."""
        for informer in self.informers:
            informer.start()
        deadline = time.monotonic() + timeout
        for informer in self.informers:
            if not informer.wait_synced(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"could not list {informer.kind.plural} within {timeout}s")

    def close(self) -> None:
        for informer in self.informers:
            informer.stop()
        self.history.close()

    def _load_extra(self, namespace: str, experiment_id: str, run_id: str, name: str) -> Extra:
        try:
            key = keys.run_prefix(namespace, experiment_id, run_id) + name
            return extra_from_json(name, self.objects.get(key))
        except (ObjectNotFound, MlflowError, ValueError) as err:
            log.warning("run %s: extra document %s unreadable: %s", run_id, name, err)
            return Extra(name)

    # -- experiments -------------------------------------------------------------------------

    def _assign_id(
        self, namespace: str, record: ExperimentRecord, experiment_id: str | None
    ) -> ExperimentRecord:
        """Give an Experiment made outside the MLflow API (kubectl, the operator) its id."""
        name = record.resource.metadata.name
        new_id = experiment_id
        for _ in range(ATTEMPTS):
            if record.entity is not None:
                return record
            new_id = new_id or self.ids.allocate()
            status = convert.experiment_status(new_id, now_ms(), Stage.ACTIVE)
            patch = {"metadata": {"resourceVersion": str(record.version)}, "status": status}
            try:
                obj = self.client.patch(EXPERIMENT, namespace, name, patch, status=True)
            except Conflict:
                obj = self.client.get(EXPERIMENT, namespace, name)
            except KubeError as err:
                raise unavailable(err) from None
            record = self.cache.put_experiment(obj) or record
        if record.entity is None:
            raise unavailable(RuntimeError(f"experiment {name} kept changing"))
        return record

    def _default(self, namespace: str) -> ExperimentRecord:
        record = self.cache.experiment_by_resource(namespace, convert.DEFAULT_RESOURCE)
        if record is None:
            body = convert.new_experiment(DEFAULT_EXPERIMENT_NAME, None, {})
            try:
                obj = self.client.create(EXPERIMENT, namespace, body)
            except AlreadyExists:
                obj = self.client.get(EXPERIMENT, namespace, convert.DEFAULT_RESOURCE)
            except NotFound:
                raise not_found(
                    f"the workspace {namespace!r} does not exist: create the namespace first"
                ) from None
            except KubeError as err:
                raise unavailable(err) from None
            record = self.cache.put_experiment(obj)
            if record is None:
                raise MlflowError(ErrorCode.INTERNAL_ERROR, "the Default experiment is invalid")
        return self._assign_id(namespace, record, DEFAULT_EXPERIMENT_ID)

    def _experiment(self, namespace: str, experiment_id: str) -> ExperimentRecord:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            return self._default(namespace)
        record = self.cache.experiment(namespace, experiment_id)
        if record is None or record.entity is None:
            raise not_found(f"no experiment with id {experiment_id!r} in workspace {namespace!r}")
        return record

    @staticmethod
    def _entity(record: ExperimentRecord) -> Experiment:
        assert record.entity is not None
        return record.entity

    def create_experiment(
        self, workspace: str, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        if artifact_location and not artifact_location.startswith("s3://"):
            raise invalid(
                f"artifact_location {artifact_location!r} is not supported: mlkube keeps "
                "artifacts in object storage; give an s3:// URI or leave it empty"
            )
        self._default(workspace)
        if self.cache.experiment_by_name(workspace, name) is not None:
            raise already_exists(f"an experiment named {name!r} already exists")
        experiment_id = self.ids.allocate()
        body = convert.new_experiment(name, artifact_location, tags)
        try:
            obj = self.client.create(EXPERIMENT, workspace, body)
        except AlreadyExists:
            # The derived name may belong to an experiment since renamed: make it unique.
            existing = self.cache.experiment_by_name(workspace, name)
            if existing is not None:
                raise already_exists(f"an experiment named {name!r} already exists") from None
            body["metadata"]["name"] = f"{body['metadata']['name'][:50]}-{experiment_id}"
            body["spec"]["displayName"] = name
            try:
                obj = self.client.create(EXPERIMENT, workspace, body)
            except KubeError as err:
                raise unavailable(err) from None
        except NotFound:
            raise not_found(f"the workspace {workspace!r} does not exist") from None
        except KubeError as err:
            raise unavailable(err) from None
        record = self.cache.put_experiment(obj)
        if record is None:
            raise MlflowError(ErrorCode.INTERNAL_ERROR, f"the new experiment {name!r} is invalid")
        # The operator may have given it an id first; then that one is its id (a gap remains).
        return self._entity(self._assign_id(workspace, record, experiment_id)).experiment_id

    def get_experiment(self, workspace: str, experiment_id: str) -> Experiment:
        return self._entity(self._experiment(workspace, experiment_id))

    def get_experiment_by_name(self, workspace: str, name: str) -> Experiment:
        if name == DEFAULT_EXPERIMENT_NAME:
            return self._entity(self._default(workspace))
        record = self.cache.experiment_by_name(workspace, name)
        if record is None:
            raise not_found(f"no experiment named {name!r} in workspace {workspace!r}")
        return self._entity(self._assign_id(workspace, record, None))

    def list_experiments(self, workspace: str, view_type: ViewType) -> list[Experiment]:
        self._default(workspace)
        for name, record in list(self.cache.experiments[workspace].items()):
            if record.entity is None and name != convert.DEFAULT_RESOURCE:
                self._assign_id(workspace, record, None)
        return self.cache.list_experiments(workspace, view_type)

    def _patch_experiment(
        self, workspace: str, record: ExperimentRecord, spec: Obj | None, status: Obj | None
    ) -> None:
        name = record.resource.metadata.name
        try:
            if spec is not None:
                obj = self.client.patch(EXPERIMENT, workspace, name, {"spec": spec})
                self.cache.put_experiment(obj)
            touched = {"lastUpdateTime": from_ms(now_ms()), **(status or {})}
            obj = self.client.patch(EXPERIMENT, workspace, name, {"status": touched}, status=True)
            self.cache.put_experiment(obj)
        except NotFound:
            raise not_found(f"the experiment {name} was deleted") from None
        except KubeError as err:
            raise unavailable(err) from None

    def rename_experiment(self, workspace: str, experiment_id: str, new_name: str) -> None:
        record = self._experiment(workspace, experiment_id)
        rules.require_active_experiment(self._entity(record), "renaming it")
        other = self.cache.experiment_by_name(workspace, new_name)
        if other is not None and other.resource.metadata.name != record.resource.metadata.name:
            raise already_exists(f"an experiment named {new_name!r} already exists")
        self._patch_experiment(workspace, record, {"displayName": new_name}, None)

    def _set_experiment_stage(
        self, workspace: str, experiment_id: str, stage: LifecycleStage
    ) -> None:
        record = self._experiment(workspace, experiment_id)
        if self._entity(record).lifecycle_stage is stage:
            raise not_found(f"the experiment {experiment_id} is already {stage.value}")
        self._patch_experiment(workspace, record, None, {"lifecycleStage": stage.value})
        for run in self.cache.runs_of(workspace, record.resource.metadata.name):
            self._submit(workspace, run.resource.metadata.name, lambda d: d.set_stage(stage))

    def delete_experiment(self, workspace: str, experiment_id: str) -> None:
        if experiment_id == DEFAULT_EXPERIMENT_ID:
            raise invalid("the Default experiment (id 0) cannot be deleted")
        self._set_experiment_stage(workspace, experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, workspace: str, experiment_id: str) -> None:
        self._set_experiment_stage(workspace, experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, workspace: str, experiment_id: str, key: str, value: str) -> None:
        record = self._experiment(workspace, experiment_id)
        rules.require_active_experiment(self._entity(record), "tagging it")
        spec = {"description": value} if key == convert.NOTE_TAG else {"tags": {key: value}}
        self._patch_experiment(workspace, record, spec, None)

    def delete_experiment_tag(self, workspace: str, experiment_id: str, key: str) -> None:
        record = self._experiment(workspace, experiment_id)
        rules.require_active_experiment(self._entity(record), "changing its tags")
        if key not in self._entity(record).tags:
            raise not_found(f"the experiment {experiment_id} has no tag {key!r}")
        spec = {"description": ""} if key == convert.NOTE_TAG else {"tags": {key: None}}
        self._patch_experiment(workspace, record, spec, None)

    # -- runs --------------------------------------------------------------------------------

    def _record(self, workspace: str, run_id: str) -> RunRecord:
        record = self.cache.run(workspace, run_id)
        if record is None or record.entity is None:
            raise not_found(f"no run with id {run_id!r} in workspace {workspace!r}")
        return record

    def _submit(self, workspace: str, name: str, apply: Callable[[RunDraft], Any]) -> Any:
        return self.writer.submit(workspace, name, apply)

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
                "labels": {convert.EXPERIMENT_ID_LABEL: experiment_id, RUN_ID_LABEL: run_id},
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
            if draft.project:
                return  # the operator owns a project run's phase and times
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
            self.models.update(workspace, model_id, _metrics_adder(points, run_id))

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
        record = self.cache.run(workspace, run_id)
        if record is None or record.entity is None:
            return []
        info = record.entity.info
        prefix = keys.metrics_prefix(workspace, info.experiment_id, info.run_id)
        try:
            return self.history.read(prefix, key)
        except OSError as err:
            raise unavailable(err) from None

    # -- logged models ------------------------------------------------------------------------

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
        experiment = self.get_experiment(workspace, experiment_id)
        if source_run_id:
            self.get_run(workspace, source_run_id)
        model = rules.new_logged_model(
            experiment, name, source_run_id, model_type, params, tags, now_ms()
        )
        return self.models.put(workspace, model)

    def get_logged_model(self, workspace: str, model_id: str) -> LoggedModel:
        return self.models.get(workspace, model_id)

    def finalize_logged_model(
        self, workspace: str, model_id: str, status: LoggedModelStatus
    ) -> LoggedModel:
        return self.models.update(workspace, model_id, lambda m: _touched(m, status=status))

    def set_logged_model_tags(
        self, workspace: str, model_id: str, tags: dict[str, str]
    ) -> LoggedModel:
        return self.models.update(
            workspace, model_id, lambda m: _touched(m, tags={**m.tags, **tags})
        )

    def delete_logged_model_tag(self, workspace: str, model_id: str, key: str) -> None:
        def change(model: LoggedModel) -> LoggedModel:
            if key not in model.tags:
                raise not_found(f"the logged model {model_id} has no tag {key!r}")
            return _touched(model, tags={k: v for k, v in model.tags.items() if k != key})

        self.models.update(workspace, model_id, change)

    def log_logged_model_params(
        self, workspace: str, model_id: str, params: dict[str, str]
    ) -> None:
        def change(model: LoggedModel) -> LoggedModel:
            added = rules.merged_params(model.params, params)
            return _touched(model, params={**model.params, **added})

        self.models.update(workspace, model_id, change)

    def delete_logged_model(self, workspace: str, model_id: str) -> None:
        self.models.delete(workspace, model_id)

    def list_logged_models(
        self, workspace: str, experiment_ids: Sequence[str]
    ) -> list[LoggedModel]:
        return self.models.of_experiments(workspace, set(experiment_ids))


def _touched(model: LoggedModel, **changes: Any) -> LoggedModel:
    return dataclasses.replace(model, last_updated_timestamp_ms=now_ms(), **changes)


def _metrics_adder(points: list[Metric], run_id: str) -> Callable[[LoggedModel], LoggedModel]:
    """Records a run's metrics on the logged model they were logged for (MLflow 3)."""
    tagged = [dataclasses.replace(p, run_id=run_id) for p in points]

    def add(model: LoggedModel) -> LoggedModel:
        kept = [m for m in model.metrics if m not in tagged]
        return _touched(model, metrics=(*kept, *tagged))

    return add
